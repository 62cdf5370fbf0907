/**
 * Hyper runtime benchmark (`npm run bench:runtime`; figures in docs/benchmarks.md).
 *
 * Baseline: a bare `qemu -kernel` boot of the same kernel and initramfs, on the same machine
 * model, until the guest agent prints its boot marker (kernel flag `h8s.marker`): the time to
 * the point where the agent would start serving the host.
 * Then pod starts through the handler API (sandbox + one busybox container started, what
 * `hyperctl run -d` does): cold (no pool) and pooled, p50/p99 over `--pods` pods; and host
 * memory per idle pod (PSS of QEMU from /proc/PID/smaps_rollup) over `--idle` pods.
 *
 *   npm run bench:runtime -- [--pods 20] [--idle 4] [--ksm] [--hyperctl] [--tb MiB] [--no-balloon] [--no-template]
 * `--hyperctl` adds the user's path: `hyperctl run -d busybox sleep` against a real `h8s runtime`
 * daemon (pool of 1, busybox from a loopback registry), its printed `Time to run a POD`.
 * `--ksm` turns host KSM on (a host change, see docs/hyper-runtime.md) for the memory figure.
 * Hostile pod (moved here from hyper-handler.int.test.ts, which asserts the behaviour): the
 * median of a host-side probe (`true` run 7 times) while a pod floods its log and runs a fork
 * bomb, as a ratio against the same probe just before that pod's containers start (target
 * at most 20x, or 500 ms).
 */
import { mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { execFile, nullLogger, spawnProcess } from '../src/lib/index.js';
import { defaultGuestDir, findGuestAssets, guestKernelArgs } from '../src/runtime/hyper/index.js';
import { createHyperHandler, type HyperHandler } from '../src/runtime/hyper/hyper-handler.js';
import { QemuVm, qemuArgv } from '../src/runtime/hyper/qemu-vm.js';
import { buildBusyboxRootDisk, busyboxContainer } from '../src/runtime/testing/busybox-root-disk.js';
import type { SandboxHandle } from '../src/runtime/sandbox-handler.js';

const args = process.argv.slice(2);
const flag = (name: string, def: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const pods = flag('--pods', 20);
const idlePods = flag('--idle', 4);
const ksm = args.includes('--ksm');
// TCG translation buffer (MiB) for the baseline and the pods alike; default the handler's.
const tbSizeMiB = flag('--tb', 16);
// `--no-balloon` measures memory without the idle balloon (handler balloonHeadroomMiB 0).
const balloon = !args.includes('--no-balloon');
const viaHyperctl = args.includes('--hyperctl');
// `--no-template` boots every VM (no VM templating, vm-template.ts) for comparison.
const templating = !args.includes('--no-template');
const repo = new URL('..', import.meta.url).pathname;

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN;
};
const ms = (x: number): string => `${Math.round(x)} ms`;

const guest = await findGuestAssets(defaultGuestDir(repo));
const tmp = await mkdtemp('/tmp/h8s-hb-');
const disk = await buildBusyboxRootDisk(tmp);
const events = { containerStarted: () => {}, containerExited: () => {}, sandboxDied: () => {} };
let seq = 0;

async function bareBoot(): Promise<number> {
  const dir = join(tmp, `bare${seq++}`);
  await mkdir(dir);
  const tsc = Math.round(
    Number(/^cpu MHz\s*:\s*([\d.]+)/m.exec(await readFile('/proc/cpuinfo', 'utf8'))?.[1]) * 1000,
  );
  const sockets = QemuVm.sockets(dir);
  const argv = qemuArgv(
    {
      vmId: 'bare',
      dir,
      qemuBinary: 'qemu-system-x86_64',
      kernel: guest.kernel,
      initrd: guest.initrd,
      cpus: 1,
      memoryMiB: 128,
      accel: 'tcg',
      tbSizeMiB,
      rootPorts: 8,
      kernelArgs: [...guestKernelArgs('tcg', Number.isFinite(tsc) ? tsc : undefined), 'h8s.marker'],
      useCgroup: false,
      ramBackend: ksm ? 'anon' : 'memfd',
    },
    sockets,
  );
  const t0 = performance.now();
  const child = await spawnProcess(argv, { stdio: ['ignore', 'ignore', 'ignore'] });
  try {
    return await new Promise<number>((resolve, reject) => {
      let text = '';
      const attempt = (): void => {
        const s = connect(sockets.console);
        s.on('error', () => setTimeout(attempt, 2));
        s.on('data', (d: Buffer) => {
          text += d.toString('latin1');
          if (text.includes('H8S-BOOT-MARKER')) {
            resolve(performance.now() - t0);
            s.destroy();
          }
        });
      };
      attempt();
      setTimeout(() => reject(new Error('bare boot did not reach the marker in 120 s')), 120_000).unref();
    });
  } finally {
    await child.stop(2000);
  }
}

/** Phases of a pod start (ms): sandbox (VM taken or booted, pod set up), create (overlay, disk hot-plug, mount), start (exec). */
interface Phases {
  sandbox: number;
  create: number;
  start: number;
}

async function startPod(
  h: HyperHandler,
  name: string,
): Promise<{ sb: SandboxHandle; ms: number; phases: Phases }> {
  const stateDir = join(tmp, `sb${seq++}`);
  await mkdir(stateDir);
  const t0 = performance.now();
  const sb = await h.startSandbox({
    id: `${name}${seq}`.padEnd(64, '0'),
    config: { metadata: { name, uid: name, namespace: 'bench', attempt: 0 } },
    stateDir,
    events,
  });
  const t1 = performance.now();
  await sb.createContainer(busyboxContainer(disk, 'main', stateDir, { command: ['sleep', '100000'] }));
  const t2 = performance.now();
  await sb.startContainer('main');
  const t3 = performance.now();
  return { sb, ms: t3 - t0, phases: { sandbox: t1 - t0, create: t2 - t1, start: t3 - t2 } };
}

const handler = (poolSize: number): HyperHandler =>
  createHyperHandler({
    root: join(tmp, `h${seq++}`),
    log: nullLogger,
    kernel: guest.kernel,
    initrd: guest.initrd,
    guestBuildId: guest.buildHash,
    poolSize,
    enableKsm: ksm,
    vmTemplates: templating,
    tbSizeMiB,
    ...(balloon ? {} : { balloonHeadroomMiB: 0 }),
  });

const loadavg = async (): Promise<string> =>
  (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
const ksmBefore = (await readFile('/sys/kernel/mm/ksm/run', 'utf8').catch(() => '0')).trim();
const out: Record<string, unknown> = {
  pods,
  idlePods,
  ksm,
  balloon,
  templating,
  tbSizeMiB,
  kernel: guest.kernelVersion,
  loadAtStart: await loadavg(),
};
console.log(`host load average at start: ${String(out['loadAtStart'])} (2 cores; figures scale with it)`);
try {
  const bare: number[] = [];
  for (let i = 0; i < 5; i++) bare.push(await bareBoot());
  out['bareBootP50Ms'] = pct(bare, 50);
  console.log(
    `bare qemu -kernel boot to the agent marker: p50 ${ms(pct(bare, 50))} (5 runs: ${bare.map(ms).join(', ')})`,
  );

  const cold = handler(0);
  out['accel'] = (await cold.probe()).details['accel'];
  const coldMs: number[] = [];
  let failures = 0;
  for (let i = 0; i < pods; i++) {
    try {
      const { sb, ms: t } = await startPod(cold, 'cold');
      coldMs.push(t);
      await sb.destroy();
    } catch (err) {
      failures++;
      console.log(`cold start ${i} failed: ${(err as Error).message}`);
    }
  }
  await cold.close();
  out['coldP50Ms'] = pct(coldMs, 50);
  out['coldP99Ms'] = pct(coldMs, 99);
  console.log(
    `cold pod start (no pool): p50 ${ms(pct(coldMs, 50))}, p99 ${ms(pct(coldMs, 99))}; ratio to bare boot ${(pct(coldMs, 50) / pct(bare, 50)).toFixed(2)}x (target <= 1.3x)`,
  );

  const pooled = handler(1);
  const pooledMs: number[] = [];
  const pooledPhases: Phases[] = [];
  for (let i = 0; i < pods; i++) {
    await pooled.waitPoolFull(300_000);
    try {
      const { sb, ms: t, phases } = await startPod(pooled, 'pooled');
      pooledMs.push(t);
      pooledPhases.push(phases);
      await sb.destroy();
    } catch (err) {
      failures++;
      console.log(`pooled start ${i} failed: ${(err as Error).message}`);
    }
  }
  out['failedStarts'] = failures;
  await pooled.shutdownPool();
  await pooled.close();
  const phaseP50 = (k: keyof Phases): number =>
    Math.round(
      pct(
        pooledPhases.map((p) => p[k]),
        50,
      ),
    );
  out['pooledPhasesP50Ms'] = {
    sandbox: phaseP50('sandbox'),
    create: phaseP50('create'),
    start: phaseP50('start'),
  };
  out['loadDuringPooled'] = await loadavg();
  out['pooledP50Ms'] = pct(pooledMs, 50);
  out['pooledP99Ms'] = pct(pooledMs, 99);
  console.log(
    `pooled pod start: p50 ${ms(pct(pooledMs, 50))}, p99 ${ms(pct(pooledMs, 99))} (target p50 <= 300 ms under TCG); phases p50: ${JSON.stringify(out['pooledPhasesP50Ms'])}`,
  );

  const memRoot = join(tmp, `h${seq}`);
  const mem = handler(0);
  const idle: SandboxHandle[] = [];
  for (let i = 0; i < idlePods; i++) idle.push((await startPod(mem, 'idle')).sb);
  // Give free page reporting, the idle balloon (first pass 10 s after start) and KSM, when
  // on, time to settle.
  await new Promise((r) => setTimeout(r, ksm ? 60_000 : 20_000));
  const pss: number[] = [];
  for (const sb of idle) {
    const text = await readFile(`/proc/${String(sb.info()['pid'])}/smaps_rollup`, 'utf8');
    pss.push(Number(/^Pss:\s+(\d+) kB/m.exec(text)?.[1]) / 1024);
  }
  const mean = pss.reduce((a, b) => a + b, 0) / pss.length;
  // Where the first pod's PSS goes (MiB): guest RAM (private = written by this VM, shared =
  // the template's pages it maps), anonymous memory (TCG buffer, QEMU allocations), heap, files.
  const first = idle[0];
  if (first) {
    const smaps = await readFile(`/proc/${String(first.info()['pid'])}/smaps`, 'utf8');
    const parts: Record<string, number> = {};
    let kind = '';
    for (const line of smaps.split('\n')) {
      const m = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
      if (m) {
        const name = m[1] ?? '';
        kind = /\/ram$|memfd:ram/.test(name)
          ? 'guestRam'
          : name === ''
            ? 'anon'
            : name === '[heap]'
              ? 'heap'
              : 'files';
        continue;
      }
      const f = /^(Pss|Private_Dirty):\s+(\d+) kB/.exec(line);
      if (f) {
        const key = f[1] === 'Pss' ? kind : kind === 'guestRam' ? 'guestRamPrivate' : '';
        if (key) parts[key] = (parts[key] ?? 0) + Number(f[2]) / 1024;
      }
    }
    for (const k of Object.keys(parts)) parts[k] = Math.round((parts[k] ?? 0) * 10) / 10;
    out['firstPodPssMiB'] = parts;
    console.log(`PSS of the first idle pod by mapping (MiB): ${JSON.stringify(parts)}`);
  }
  out['pssPerIdlePodMiB'] = Math.round(mean * 10) / 10;
  out['podsPerGiB'] = Math.floor(1024 / mean);
  console.log(
    `host memory per idle pod (QEMU PSS, ${idlePods} pods, 128 MiB guests, tb-size ${tbSizeMiB}${templating && !ksm ? ', VM templating (clones: no balloon)' : balloon ? ', balloon' : ', no balloon'}${ksm ? ', KSM on' : ''}): ${mean.toFixed(1)} MiB (target <= 64 MiB); ${Math.floor(1024 / mean)} pods per GiB`,
  );
  // The template's fixed cost (once per VM size and guest build, not per pod): its RAM file's
  // pages in the host page cache. Pages some pod maps are already in the pods' PSS (divided
  // among them); the rest is memory only the template holds.
  const tplRoot = join(memRoot, 'templates');
  const tplNames = await readdir(tplRoot).catch(() => [] as string[]);
  for (const name of tplNames.filter((n) => !n.startsWith('.'))) {
    const ram = join(tplRoot, name, 'ram');
    const st = await stat(ram);
    const resident = await execFile(['fincore', '--bytes', '--noheadings', '--output', 'RES', ram]).then(
      (r) => Number(r.stdout.trim()) / 1024 / 1024,
      () => NaN,
    );
    const state = await stat(join(tplRoot, name, 'state'));
    const meta = JSON.parse(await readFile(join(tplRoot, name, 'template.json'), 'utf8')) as {
      buildMs: number;
    };
    out['template'] = {
      name,
      ramAllocatedMiB: Math.round((st.blocks * 512) / 1024 / 102.4) / 10,
      ramResidentMiB: Math.round(resident * 10) / 10,
      stateKiB: Math.round(state.size / 1024),
      buildMs: meta.buildMs,
    };
    console.log(
      `VM template (fixed cost, once per size): RAM file ${((st.blocks * 512) / 1024 / 1024).toFixed(1)} MiB written, ${resident.toFixed(1)} MiB in the page cache (shared by the pods mapping it, in their PSS); device state ${Math.round(state.size / 1024)} KiB; built in ${ms(meta.buildMs)}`,
    );
  }
  for (const sb of idle) await sb.destroy();
  await mem.close();
  if (viaHyperctl) {
    const { startTestRuntime } = await import('../src/runtime/testing/test-runtime.js');
    const { execFile } = await import('../src/lib/index.js');
    const d = await startTestRuntime({
      childProcess: true,
      handlers: ['hyper'],
      extraArgs: ['--guest-dir', defaultGuestDir(repo), '--pool-size', '1'],
    });
    const times: number[] = [];
    try {
      for (let i = 0; i < pods; i++) {
        // Wait for the pool to be full again (hyperctl info shows it).
        for (let w = 0; w < 600; w++) {
          const info = await execFile(
            [process.execPath, join(repo, 'bin', 'hyperctl.js'), '--host', d.endpoint, 'info'],
            { check: false },
          );
          if (/pool\D*1\s*\/\s*1|poolReady\D*1/i.test(info.stdout)) break;
          await new Promise((r) => setTimeout(r, 500));
        }
        const r = await execFile(
          [
            process.execPath,
            join(repo, 'bin', 'hyperctl.js'),
            '--host',
            d.endpoint,
            'run',
            '-d',
            d.busyboxRef,
            'sleep',
            '100000',
          ],
          { check: false, timeoutMs: 300_000 },
        );
        const m = /Time to run a POD is (\d+) ms/.exec(r.stdout);
        if (m) times.push(Number(m[1]));
        else console.log(`hyperctl run failed: ${r.stderr.trim().slice(0, 300)}`);
        const id = /POD id is (\S+)/.exec(r.stdout)?.[1];
        if (id)
          await execFile(
            [process.execPath, join(repo, 'bin', 'hyperctl.js'), '--host', d.endpoint, 'rm', id],
            { check: false, timeoutMs: 120_000 },
          );
      }
    } finally {
      const root = d.root;
      await d.stop();
      // The daemon's pooled VM outlives it by design: kill QEMUs whose command line names our root.
      const { readdir } = await import('node:fs/promises');
      for (const pid of await readdir('/proc')) {
        if (!/^\d+$/.test(pid)) continue;
        const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
        if (cmd.startsWith('qemu-system') && cmd.includes(root)) process.kill(Number(pid), 'SIGKILL');
      }
    }
    out['hyperctlPooledP50Ms'] = pct(times, 50);
    out['hyperctlPooledP99Ms'] = pct(times, 99);
    console.log(
      `hyperctl run -d (pooled, "Time to run a POD"): p50 ${ms(pct(times, 50))}, p99 ${ms(pct(times, 99))} over ${times.length} pods`,
    );
  }
  {
    const h = handler(0);
    const probe = async (): Promise<number> => {
      const t = performance.now();
      await execFile(['true']);
      return performance.now() - t;
    };
    const median = async (): Promise<number> => {
      const xs: number[] = [];
      for (let i = 0; i < 7; i++) xs.push(await probe());
      return pct(xs, 50);
    };
    const stateDir = join(tmp, `sb${seq++}`);
    await mkdir(stateDir);
    const sb = await h.startSandbox({
      id: 'hostile'.padEnd(64, '0'),
      config: { metadata: { name: 'hostile', uid: 'hostile', namespace: 'bench', attempt: 0 } },
      stateDir,
      events,
    });
    try {
      const baseline = await median();
      await sb.createContainer(
        busyboxContainer(disk, 'flood', stateDir, { command: ['yes', 'flood-flood-flood-flood'] }),
      );
      await sb.startContainer('flood');
      await sb.createContainer(
        busyboxContainer(disk, 'bomb', stateDir, {
          command: ['sh', '-c', 'bomb() { bomb | bomb & }; bomb; sleep 1000'],
        }),
      );
      await sb.startContainer('bomb');
      const during = await median();
      const ratio = during / baseline;
      out['hostileProbeBaselineMs'] = baseline;
      out['hostileProbeDuringMs'] = during;
      out['hostileProbeRatio'] = ratio;
      const met = during < Math.max(baseline * 20, 500);
      console.log(
        `host probe during a flooding, fork-bombing pod: ${during.toFixed(1)} ms vs ${baseline.toFixed(1)} ms before = ${ratio.toFixed(1)}x (target <= 20x or 500 ms: ${met ? 'met' : 'not met'})`,
      );
    } finally {
      await sb.destroy();
      await h.close();
    }
  }
  out['loadAtEnd'] = await loadavg();
  console.log(JSON.stringify({ bench: 'runtime-hyper', ...out }));
} finally {
  await rm(tmp, { recursive: true, force: true });
  if (ksm && ksmBefore === '0') {
    const { writeFile } = await import('node:fs/promises');
    // PRIVILEGED: puts the host's KSM back as it was (unmerge, then off).
    await writeFile('/sys/kernel/mm/ksm/run', '2').catch(() => {});
    await writeFile('/sys/kernel/mm/ksm/run', '0').catch(() => {});
  }
}
