/**
 * A real runtime daemon for tests: its own root under /tmp, its own socket, its own cgroup
 * parent, a loopback registry holding busybox (images/testing), and a `RuntimeClient`.
 *
 *   const d = await startTestRuntime({ handlers: ['runc'] });        // in this process
 *   const d = await startTestRuntime({ childProcess: true });         // `h8s runtime` child
 *   try { await d.client.runPodSandbox(...) } finally { await d.stop() }
 *
 * In child-process mode `kill9()` and `restart()` exercise re-adoption. `stop()` removes
 * every sandbox, stops the daemon, then makes sure nothing is left: monitors started from
 * this root, runc containers, mounts, cgroups and the directory itself.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createImageService } from '../../images/index.js';
import { killProcessesUnder } from './processes.js';
import { pushBusybox, startTestRegistry, type TestRegistry } from '../../images/testing/index.js';
import {
  createLogger,
  execFile,
  spawnProcess,
  textLineSink,
  waitFor,
  type ChildHandle,
  type Logger,
  type LogRecord,
} from '../../lib/index.js';
import { removeCgroupTree, detectCgroupVersion } from '../runc/cgroups.js';
import { createRuncHandler } from '../runc/runc-handler.js';
import { findShimBinary } from '../runc/shim-binary.js';
import { unmountAll } from '../host-mounts.js';
import { RuntimeClient } from '../runtime-client.js';
import { createRuntimeCore, type RuntimeCore } from '../runtime-core.js';
import { createRuntimeServer, type RuntimeServer } from '../runtime-server.js';
import type { RuntimeHandlerName } from '../runtime-service.js';
import type { SandboxHandler } from '../sandbox-handler.js';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

export interface TestRuntimeOptions {
  /** Handlers to run (built here for runc; pass others in `extraHandlers`). Default ['runc']. */
  readonly handlers?: readonly RuntimeHandlerName[];
  /** Handlers built by the caller (e.g. a hyper handler), in-process mode only. */
  readonly extraHandlers?: readonly SandboxHandler[];
  /** Run `h8s runtime` as a child process (needed for kill -9). Default false. */
  readonly childProcess?: boolean;
  /** Share a registry between daemons; otherwise one is started (and stopped) here. */
  readonly registry?: TestRegistry;
  /** Extra flags for the child daemon. */
  readonly extraArgs?: readonly string[];
  /** Pull busybox into the daemon. Default true. */
  readonly pullBusybox?: boolean;
}

export interface TestRuntime {
  readonly root: string;
  readonly endpoint: string;
  readonly client: RuntimeClient;
  readonly registry: TestRegistry;
  /** `127.0.0.1:<port>/busybox:latest`, pulled. */
  readonly busyboxRef: string;
  readonly cgroupParent: string;
  /** Daemon log lines so far (bounded). */
  logs(): string;
  /** SIGKILL the child daemon (child mode); pods keep running. */
  kill9(): Promise<void>;
  /** Starts the daemon again on the same root (after kill9). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

function boundedLog(): { log: Logger; text: () => string; push: (s: string) => void } {
  const lines: string[] = [];
  let size = 0;
  const push = (s: string): void => {
    lines.push(s);
    size += s.length;
    while (size > 256 * 1024 && lines.length > 1) size -= (lines.shift() as string).length;
  };
  const log = createLogger({ level: 'debug', sink: textLineSink(push) as (r: LogRecord) => void });
  return { log, text: () => lines.join(''), push };
}

/** Starts a daemon. Always `stop()` it in `after`/`finally`. */
export async function startTestRuntime(options: TestRuntimeOptions = {}): Promise<TestRuntime> {
  const root = await mkdtemp(join(tmpdir(), 'h8s-rt-'));
  const endpoint = `unix://${join(root, 'rt.sock')}`;
  const cgroupParent = `/h8s-test-${randomBytes(4).toString('hex')}`;
  const handlers = options.handlers ?? ['runc'];
  const ownRegistry = !options.registry;
  const registry = options.registry ?? (await startTestRegistry());
  const shim = await findShimBinary();
  const { log, text, push } = boundedLog();
  let child: ChildHandle | undefined;
  let inProcess: { core: RuntimeCore; server: RuntimeServer } | undefined;

  const startInProcess = async (): Promise<void> => {
    const images = await createImageService({ root: join(root, 'images'), log });
    const built: SandboxHandler[] = [...(options.extraHandlers ?? [])];
    if (handlers.includes('runc')) {
      built.push(createRuncHandler({ runcRoot: join(root, 'runc'), shimPath: shim, cgroupParent, log }));
    }
    const core = createRuntimeCore({
      root,
      images,
      handlers: built,
      defaultHandler: handlers[0] ?? 'runc',
      version: 'test',
      log,
    });
    await core.start();
    const server = createRuntimeServer({ runtime: core, log, tmpDir: join(root, 'tmp') });
    await server.listen(endpoint);
    inProcess = { core, server };
  };

  const startChild = async (): Promise<void> => {
    child = await spawnProcess(
      [
        process.execPath,
        join(repoRoot, 'bin', 'h8s.js'),
        'runtime',
        '--root',
        root,
        '--listen',
        endpoint,
        '--handlers',
        handlers.join(','),
        '--default-handler',
        handlers[0] ?? 'runc',
        '--cgroup-parent',
        cgroupParent,
        '--shim',
        shim,
        '--log-format',
        'text',
        '--log-level',
        'debug',
        ...(options.extraArgs ?? []),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], cwd: repoRoot },
    );
    child.stdout?.setEncoding('utf8').on('data', push);
    child.stderr?.setEncoding('utf8').on('data', push);
    const c = child;
    const probe = new RuntimeClient({ endpoint, timeoutMs: 5000 });
    try {
      await waitFor(
        async () => {
          if (c.raw.exitCode !== null) throw new Error(`the daemon exited: ${text().slice(-2000)}`);
          await probe.ping();
          return true;
        },
        { timeoutMs: 60_000, description: 'the runtime daemon to serve' },
      );
    } finally {
      probe.close();
    }
  };

  const start = options.childProcess ? startChild : startInProcess;
  await start();
  const client = new RuntimeClient({ endpoint });
  let busyboxRef = '';
  const stopDaemon = async (): Promise<void> => {
    if (inProcess) {
      await inProcess.server.close();
      await inProcess.core.close();
      inProcess = undefined;
    }
    if (child) {
      await child.stop(10_000);
      child = undefined;
    }
  };

  const cleanup = async (): Promise<void> => {
    try {
      if (child || inProcess) {
        for (const s of await client.listPodSandbox().catch(() => [])) {
          await client.removePodSandbox(s.id).catch((err: unknown) => push(`cleanup: ${String(err)}\n`));
        }
      }
    } finally {
      client.close();
      await stopDaemon().catch((err: unknown) => push(`cleanup: stop the daemon: ${String(err)}\n`));
      // the daemon is gone; its VMs (pooled ones too) and runc monitors outlive it by design
      await killProcessesUnder(root);
      const runcRoot = join(root, 'runc');
      for (const name of await readdir(runcRoot).catch(() => [] as string[])) {
        if (name === 'bin') continue;
        await execFile(['runc', '--root', runcRoot, 'delete', '--force', name], { check: false });
      }
      await unmountAll(root).catch((err: unknown) =>
        push(`cleanup: unmount under ${root}: ${String(err)}\n`),
      );
      await removeCgroupTree(cgroupParent, await detectCgroupVersion());
      await rm(root, { recursive: true, force: true });
      if (ownRegistry) await registry.stop();
    }
  };

  try {
    if (options.pullBusybox ?? true) {
      const { ref } = await pushBusybox(registry.host);
      await client.images.pullImage(ref);
      busyboxRef = ref;
    }
  } catch (err) {
    await cleanup();
    throw err;
  }

  return {
    root,
    endpoint,
    client,
    registry,
    busyboxRef,
    cgroupParent,
    logs: text,
    async kill9() {
      if (!child) throw new Error('kill9 needs childProcess: true');
      child.kill('SIGKILL');
      await child.exited;
      child = undefined;
    },
    async restart() {
      await stopDaemon();
      await start();
    },
    stop: cleanup,
  };
}

/** Kills the monitors and exec helpers started for this root (their argv names it). */
