/**
 * `npm run bench:cli`: how fast the short-lived CLIs start, and what the daemons cost, from the
 * compiled build (dist/, `npm run build`) and, for comparison, from the sources through tsx
 * (bin/h8s-dev.js), in one run on the same machine.
 *
 * 1. CLI start (issue 11's target: at most 2x kubectl). Interleaved rounds of
 *    `kubectl version --client` (the baseline: a Go binary doing next to nothing), `hyperctl
 *    info` against a running runtime daemon, and `h8s kubeconfig` (prints the admin kubeconfig
 *    a server wrote); median and p90 wall time of each process, ratios of medians to kubectl.
 *    The same two commands from the sources (fewer rounds) show what the build saves.
 * 2. Daemon footprint: `h8s server` (the API server plus the runtime daemon it starts, runc
 *    handler only, no VM pool) from dist/ and from the sources: time from spawn to /readyz
 *    answering 200, then RSS of the server and of the runtime daemon after `--idle` seconds.
 *
 *   npm run bench:cli [-- --rounds 30 --source-rounds 5 --servers 3 --idle 10 --kubectl kubectl]
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnProcess, waitFor, type ChildHandle } from '../src/lib/index.js';
import { freePort } from '../test/e2e/helpers/api-server.js';
import { descendantsOf, rssMiB } from './process-tree.js';

const args = process.argv.slice(2);
function arg(name: string, fallback: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? (args[i + 1] as string) : fallback;
}
const rounds = Number(arg('rounds', '30'));
const sourceRounds = Number(arg('source-rounds', '5'));
const serverRuns = Number(arg('servers', '3'));
const idleMs = Number(arg('idle', '10')) * 1000;
const kubectl = arg('kubectl', 'kubectl');
const repoRoot = new URL('../', import.meta.url).pathname;
const distBin = join(repoRoot, 'bin/h8s.js');
const sourceBin = join(repoRoot, 'bin/h8s-dev.js');

const fmt = (n: number, digits = 1): string => (Number.isFinite(n) ? n.toFixed(digits) : '-');
function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
}
const median = (xs: readonly number[]): number => percentile(xs, 50);

/** Wall time of one run of `argv` in ms; throws when it fails. */
function timeRun(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): number {
  const started = process.hrtime.bigint();
  const r = spawnSync(argv[0] as string, argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (r.status !== 0) {
    throw new Error(`${argv.join(' ')} exited with ${r.status ?? r.signal}: ${String(r.stderr).slice(-500)}`);
  }
  return ms;
}

function readyz(port: number, ca: string): Promise<number> {
  return new Promise((resolve) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port, path: '/readyz', ca, servername: 'localhost', timeout: 2000 },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

interface ServerRun {
  readonly readyMs: number;
  readonly runtimeReadyMs: number;
  readonly serverRssMiB: number;
  readonly runtimeRssMiB: number;
  /** The server and every process under it (the runtime daemon, tsx's esbuild services). */
  readonly totalRssMiB: number;
  readonly dataDir: string;
}

/** Starts `h8s server` with `bin`, measures it, stops it; keeps the data dir when `keep`. */
async function runServer(bin: string, keep: boolean): Promise<ServerRun> {
  const dataDir = await mkdtemp(join(tmpdir(), 'h8s-bench-cli-'));
  const port = await freePort();
  const endpoint = `unix://${join(dataDir, 'runtime.sock')}`;
  let child: ChildHandle | undefined;
  let out = '';
  try {
    const started = performance.now();
    child = await spawnProcess(
      [
        process.execPath,
        bin,
        'server',
        '--data-dir',
        dataDir,
        '--bind-address',
        '127.0.0.1',
        '--port',
        String(port),
        '--disable',
        'agent',
        '--runtime-endpoint',
        endpoint,
        '--log-level',
        'warn',
      ],
      {
        cwd: repoRoot,
        killGraceMs: 15_000,
        // The runtime daemon the server starts: runc only, so no VM is booted for the pool.
        extraEnv: {
          H8S_RUNTIME_HANDLERS: 'runc',
          H8S_RUNTIME_DEFAULT_HANDLER: 'runc',
          H8S_RUNTIME_POOL_SIZE: '0',
          H8S_RUNTIME_CGROUP_PARENT: `/h8s-bench-cli-${process.pid}`,
        },
      },
    );
    const server = child;
    server.stderr?.on('data', (c: Buffer) => (out = (out + c.toString()).slice(-4000)));
    server.stdout?.on('data', (c: Buffer) => (out = (out + c.toString()).slice(-4000)));
    const caPath = join(dataDir, 'server/tls/server-ca.crt');
    const readyMs = await waitFor(
      async () => {
        const ca = await readFile(caPath, 'utf8').catch(() => undefined);
        return ca !== undefined && (await readyz(port, ca)) === 200 ? performance.now() - started : false;
      },
      {
        timeoutMs: 120_000,
        intervalMs: 10,
        maxIntervalMs: 10,
        description: `the server to answer /readyz (${out.slice(-500)})`,
      },
    );
    const runtimeReadyMs = await waitFor(
      () => {
        const r = spawnSync(process.execPath, [distBin, 'hyperctl', '--host', endpoint, 'info'], {
          stdio: 'ignore',
        });
        return r.status === 0 ? performance.now() - started : false;
      },
      {
        timeoutMs: 120_000,
        intervalMs: 20,
        maxIntervalMs: 20,
        description: `the runtime daemon to answer (${out.slice(-500)})`,
      },
    );
    await new Promise((r) => setTimeout(r, idleMs));
    // From the sources each process also has tsx's esbuild service as a child: count the tree.
    const tree = await descendantsOf(server.pid);
    const cmdlines = await Promise.all(
      tree.map(async (pid) => (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0')),
    );
    const runtimePid = tree.find((_, i) => cmdlines[i]?.[2] === 'runtime');
    if (runtimePid === undefined) throw new Error('Found no runtime daemon under the server');
    const serverRssMiB = await rssMiB(server.pid);
    const runtimeRssMiB = await rssMiB(runtimePid);
    let totalRssMiB = serverRssMiB;
    for (const pid of tree) totalRssMiB += await rssMiB(pid).catch(() => 0);
    return {
      readyMs,
      runtimeReadyMs,
      serverRssMiB,
      runtimeRssMiB,
      totalRssMiB,
      dataDir,
    };
  } finally {
    await child?.stop(15_000);
    if (!keep) await rm(dataDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const build = spawnSync(process.execPath, [join(repoRoot, 'scripts/build.mjs'), '--quiet'], {
    stdio: 'inherit',
  });
  if (build.status !== 0) throw new Error('npm run build failed');
  console.log(
    `machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}, node ${process.version}`,
  );

  // 2 first: its last dist/ server leaves a data dir whose kubeconfig the CLI rounds print.
  console.log(
    `\nh8s server (API + runtime daemon), ${serverRuns} starts each, RSS after ${idleMs / 1000} s idle`,
  );
  console.log('  build    ready p50  runtime ready p50  server RSS  runtime RSS  tree RSS');
  let dataDir = '';
  const footprint: Record<string, ServerRun[]> = { source: [], dist: [] };
  for (let i = 0; i < serverRuns; i++) {
    for (const [mode, bin] of [
      ['source', sourceBin],
      ['dist', distBin],
    ] as const) {
      const keep = mode === 'dist' && i === serverRuns - 1;
      const r = await runServer(bin, keep);
      footprint[mode]?.push(r);
      if (keep) dataDir = r.dataDir;
    }
  }
  for (const [mode, runs] of Object.entries(footprint)) {
    const m = (f: (r: ServerRun) => number): number => median(runs.map(f));
    console.log(
      `  ${mode.padEnd(7)} ${fmt(
        m((r) => r.readyMs),
        0,
      ).padStart(7)} ms ${fmt(
        m((r) => r.runtimeReadyMs),
        0,
      ).padStart(15)} ms` +
        ` ${fmt(m((r) => r.serverRssMiB)).padStart(7)} MiB ${fmt(m((r) => r.runtimeRssMiB)).padStart(8)} MiB` +
        ` ${fmt(m((r) => r.totalRssMiB)).padStart(6)} MiB`,
    );
  }

  // 1. The CLIs against a runtime daemon of their own (dist/), interleaved with kubectl.
  const root = await mkdtemp(join(tmpdir(), 'h8s-bench-cli-rt-'));
  const endpoint = `unix://${join(root, 'rt.sock')}`;
  const daemon = await spawnProcess(
    [
      process.execPath,
      distBin,
      'runtime',
      '--root',
      root,
      '--listen',
      endpoint,
      '--handlers',
      'runc',
      '--default-handler',
      'runc',
      '--pool-size',
      '0',
      '--cgroup-parent',
      `/h8s-bench-cli-${process.pid}`,
      '--log-level',
      'warn',
    ],
    { cwd: repoRoot, killGraceMs: 15_000 },
  );
  try {
    const hyperctl = (...cli: string[]): string[] => [process.execPath, ...cli, '--host', endpoint, 'info'];
    const kubeconfig = (bin: string): string[] => [
      process.execPath,
      bin,
      'kubeconfig',
      '--data-dir',
      dataDir,
    ];
    await waitFor(() => spawnSync(process.execPath, hyperctl(distBin, 'hyperctl').slice(1)).status === 0, {
      timeoutMs: 60_000,
      intervalMs: 50,
      description: 'the runtime daemon to answer',
    });
    const cases: [string, string[]][] = [
      ['kubectl version --client', [kubectl, 'version', '--client']],
      ['hyperctl info', hyperctl(join(repoRoot, 'bin/hyperctl.js'))],
      ['h8s kubeconfig', kubeconfig(distBin)],
    ];
    const times = new Map<string, number[]>(cases.map(([name]) => [name, []]));
    for (let i = 0; i < 3; i++) for (const [, argv] of cases) timeRun(argv); // page cache, daemon warm
    for (let i = 0; i < rounds; i++) {
      for (const [name, argv] of cases) times.get(name)?.push(timeRun(argv));
    }
    const source: [string, string[]][] = [
      ['hyperctl info (sources, tsx)', hyperctl(sourceBin, 'hyperctl')],
      ['h8s kubeconfig (sources, tsx)', kubeconfig(sourceBin)],
    ];
    for (const [name] of source) times.set(name, []);
    for (let i = 0; i < sourceRounds; i++) {
      for (const [name, argv] of source) times.get(name)?.push(timeRun(argv));
    }
    const base = median(times.get('kubectl version --client') ?? []);
    console.log(
      `\nCLI start, ${rounds} interleaved rounds (sources: ${sourceRounds}), wall time per process`,
    );
    console.log('  command                           p50 ms   p90 ms   p50 / kubectl');
    for (const [name, xs] of times) {
      console.log(
        `  ${name.padEnd(32)} ${fmt(median(xs)).padStart(7)} ${fmt(percentile(xs, 90)).padStart(8)} ${fmt(median(xs) / base, 2).padStart(9)}x`,
      );
    }
    const worst = Math.max(
      median(times.get('hyperctl info') ?? []),
      median(times.get('h8s kubeconfig') ?? []),
    );
    console.log(
      `  target: hyperctl info and h8s kubeconfig <= 2x kubectl: ${worst / base <= 2 ? 'met' : 'NOT met'}`,
    );
  } finally {
    await daemon.stop(15_000);
    await rm(root, { recursive: true, force: true });
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  }
}

await main();
