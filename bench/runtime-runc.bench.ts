/**
 * `npm run bench:runtime` (runc part): pod start through the runtime daemon against a bare
 * `runc run -d` of the same bundle, in the same run.
 *
 * - h8s: `runPodSandbox` + `createContainer` + `startContainer` of a busybox `sleep` through
 *   the daemon's socket (a `h8s runtime` child process), from the first request until the
 *   start call returns with the container running. The pod is removed afterwards (not timed).
 * - baseline: `runc run -d` of a bundle made from one of those containers (its config.json,
 *   the same namespaces, seccomp, mounts and an overlay root of the same layers), from spawn
 *   until runc returns with the container running; then `runc delete -f` (not timed).
 *
 * Rounds alternate between the two so load from other work on the shared machine hits both
 * alike. Prints p50 and p99 of each and the ratios. Targets (issue 6): h8s p50 at most 2x the
 * bare runc p50, and at most 150 ms.
 *
 * Stops (moved here from the integration and e2e tests, which assert only what happens):
 * - grace: `stopContainer(id, 1 s)` of a `sleep` that ignores SIGTERM, against its 1 s grace
 *   period: the ratio is at least 1 (the grace runs out) and close to it (SIGKILL is prompt).
 * - fork bomb: `stopContainer(id, 0)` of a container whose fork bomb sits at its pids limit
 *   (64), against the same stop of an idle container: a bomb must not make stopping slow.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { execFile, spawnProcess } from '../src/lib/index.js';
import { startTestRuntime } from '../src/runtime/testing/test-runtime.js';

const rounds = Number(process.env['H8S_BENCH_ROUNDS'] ?? 40);
const stopRounds = Number(process.env['H8S_BENCH_STOP_ROUNDS'] ?? 5);
const graceMs = 1000;

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] as number;
}

async function main(): Promise<void> {
  const d = await startTestRuntime({
    handlers: ['runc'],
    childProcess: true,
    extraArgs: ['--log-level', 'warn'],
  });
  const rt = d.client;
  const ours: number[] = [];
  const bare: number[] = [];
  const graceStops: number[] = [];
  const idleStops: number[] = [];
  const bombStops: number[] = [];
  try {
    // a container whose bundle the baseline reuses (created, never started)
    const refPod = await rt.runPodSandbox(
      { metadata: { name: 'bench-ref', uid: 'ref', namespace: 'bench', attempt: 0 } },
      'runc',
    );
    const refId = await rt.createContainer(refPod, {
      metadata: { name: 'ref', attempt: 0 },
      image: d.busyboxRef,
      command: ['sleep', '1000'],
    });
    const bundleSrc = join(d.root, 'sandboxes', refPod.slice(0, 12), `c-${refId.slice(0, 12)}`);
    const spec = JSON.parse(await readFile(join(bundleSrc, 'config.json'), 'utf8')) as {
      root: { path: string };
      linux: { cgroupsPath: string };
    };
    const { lowerDirs } = JSON.parse(await readFile(join(bundleSrc, 'container.json'), 'utf8')) as {
      lowerDirs: string[];
    };
    const bundle = join(d.root, 'bare-bundle');
    for (const sub of ['rootfs', 'upper', 'work']) await mkdir(join(bundle, sub), { recursive: true });
    // the same overlay root, mounted once (runc run does not mount the root itself)
    await execFile([
      'mount',
      '-t',
      'overlay',
      'overlay',
      '-o',
      `lowerdir=${[...lowerDirs].reverse().join(':')},upperdir=${join(bundle, 'upper')},workdir=${join(bundle, 'work')}`,
      join(bundle, 'rootfs'),
    ]);
    spec.root.path = join(bundle, 'rootfs');
    spec.linux.cgroupsPath = `${d.cgroupParent}/bare`;
    await writeFile(join(bundle, 'config.json'), JSON.stringify(spec));
    const runcRoot = join(d.root, 'bare-runc');

    // warm-up (page cache, runc binary, shim)
    for (const warm of [0, 1]) {
      const sb = await rt.runPodSandbox(
        { metadata: { name: `warm${warm}`, uid: 'w', namespace: 'bench', attempt: 0 } },
        'runc',
      );
      const c = await rt.createContainer(sb, {
        metadata: { name: 'c', attempt: 0 },
        image: d.busyboxRef,
        command: ['sleep', '1000'],
      });
      await rt.startContainer(c);
      await rt.removePodSandbox(sb);
    }

    for (let i = 0; i < rounds; i++) {
      // h8s: sandbox + container to running, through the daemon API
      let t0 = performance.now();
      const sb = await rt.runPodSandbox(
        { metadata: { name: `pod${i}`, uid: `u${i}`, namespace: 'bench', attempt: 0 } },
        'runc',
      );
      const c = await rt.createContainer(sb, {
        metadata: { name: 'c', attempt: 0 },
        image: d.busyboxRef,
        command: ['sleep', '1000'],
      });
      await rt.startContainer(c);
      ours.push(performance.now() - t0);
      const st = await rt.containerStatus(c);
      if (st.state !== 'CONTAINER_RUNNING') throw new Error(`container is ${st.state}`);
      await rt.removePodSandbox(sb);

      // bare runc run -d of the same bundle
      const id = `bare-${i}`;
      t0 = performance.now();
      const child = await spawnProcess(['runc', '--root', runcRoot, 'run', '-d', '--bundle', bundle, id], {
        stdio: ['ignore', 'ignore', 'ignore'],
      });
      const exit = await child.exited;
      bare.push(performance.now() - t0);
      if (exit.code !== 0) throw new Error(`runc run exited ${exit.code}`);
      await execFile(['runc', '--root', runcRoot, 'delete', '-f', id]);
    }
    await rt.removePodSandbox(refPod);

    // stops: grace period run out, and a fork bomb against an idle container
    const stopPod = await rt.runPodSandbox(
      { metadata: { name: 'bench-stop', uid: 'stop', namespace: 'bench', attempt: 0 } },
      'runc',
    );
    const startIn = async (command: string[], pidsLimit?: number): Promise<string> => {
      const c = await rt.createContainer(stopPod, {
        metadata: { name: `s${Math.random().toString(36).slice(2, 8)}`, attempt: 0 },
        image: d.busyboxRef,
        command,
        ...(pidsLimit ? { resources: { pidsLimit } } : {}),
      });
      await rt.startContainer(c);
      return c;
    };
    const timedStop = async (c: string, timeoutSeconds: number): Promise<number> => {
      const t0 = performance.now();
      await rt.stopContainer(c, timeoutSeconds);
      const ms = performance.now() - t0;
      if ((await rt.containerStatus(c)).state !== 'CONTAINER_EXITED') throw new Error('not stopped');
      await rt.removeContainer(c);
      return ms;
    };
    for (let i = 0; i < stopRounds; i++) {
      graceStops.push(await timedStop(await startIn(['sleep', '1000']), graceMs / 1000));
      idleStops.push(await timedStop(await startIn(['sleep', '1000']), 0));
      const bomb = await startIn(['sh', '-c', 'bomb() { bomb | bomb & }; bomb; sleep 1000'], 64);
      // let the bomb reach its pids limit
      await new Promise((r) => setTimeout(r, 2000));
      bombStops.push(await timedStop(bomb, 0));
    }
    await rt.removePodSandbox(stopPod);
  } finally {
    await d.stop();
  }
  const p50 = percentile(ours, 50);
  const p99 = percentile(ours, 99);
  const b50 = percentile(bare, 50);
  const b99 = percentile(bare, 99);
  const ratio = p50 / b50;
  console.log(
    `runtime-runc: ${rounds} pods each, load average ${loadavg()[0]?.toFixed(1)} on ${(await execFile(['nproc'])).stdout.trim()} cores`,
  );
  console.log(`  bare runc run -d      p50 ${b50.toFixed(1)} ms   p99 ${b99.toFixed(1)} ms`);
  console.log(`  h8s pod start (API)   p50 ${p50.toFixed(1)} ms   p99 ${p99.toFixed(1)} ms`);
  console.log(`  ratio p50 ${ratio.toFixed(2)}x (target <= 2.0x), p99 ${(p99 / b99).toFixed(2)}x`);
  console.log(
    `  p50 target <= 150 ms: ${p50 <= 150 ? 'met' : 'not met'}; ratio target: ${ratio <= 2 ? 'met' : 'not met'}`,
  );
  const g50 = percentile(graceStops, 50);
  const graceRatio = g50 / graceMs;
  console.log(
    `  stop, ${graceMs} ms grace run out  p50 ${g50.toFixed(1)} ms = ${graceRatio.toFixed(2)}x the grace period (target 1.0x to 1.5x: ${graceRatio >= 1 && graceRatio <= 1.5 ? 'met' : 'not met'})`,
  );
  const i50 = percentile(idleStops, 50);
  const k50 = percentile(bombStops, 50);
  const bombRatio = k50 / i50;
  console.log(
    `  stop a fork bomb       p50 ${k50.toFixed(1)} ms vs idle container ${i50.toFixed(1)} ms = ${bombRatio.toFixed(2)}x (target <= 5x: ${bombRatio <= 5 ? 'met' : 'not met'})`,
  );
}

await main();
