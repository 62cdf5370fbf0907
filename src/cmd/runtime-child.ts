/**
 * The runtime daemon that `h8s server` starts beside the control plane (DESIGN.md section 1:
 * one command gives a working node). It runs as its own process, `h8s runtime`, so that a
 * busy image unpack never stalls the API server and a crash of either leaves the other up.
 * The server restarts it with back-off when it dies; stopping the server stops the daemon
 * with SIGTERM, which leaves pods running (the next daemon re-adopts them).
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Backoff, describeError, spawnProcess, type ChildHandle, type Logger } from '../lib/index.js';

const h8sBin = fileURLToPath(new URL('../../bin/h8s.js', import.meta.url));

export interface RuntimeChildOptions {
  /** The server's data dir; the runtime keeps its state in `<data-dir>/runtime`. */
  readonly dataDir: string;
  /** `unix:///path.sock` the runtime serves on. */
  readonly endpoint: string;
  /** Variables for the child on top of this process's environment (`H8S_RUNTIME_*`). */
  readonly extraEnv: Readonly<Record<string, string>>;
  readonly log: Logger;
  readonly signal: AbortSignal;
  /** Restart delays; defaults 1 s doubling to 30 s. */
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
}

export interface RuntimeChild {
  /** Resolves once the signal has aborted and the daemon has exited. */
  readonly done: Promise<void>;
  /** Pid of the daemon now running, if any. */
  pid(): number | undefined;
}

/** A run that lasted this long counts as healthy: the next crash restarts at once. */
const healthyRunMs = 60_000;

export function superviseRuntime(options: RuntimeChildOptions): RuntimeChild {
  const { log, signal } = options;
  const backoff = new Backoff({
    initialMs: options.backoff?.initialMs ?? 1_000,
    maxMs: options.backoff?.maxMs ?? 30_000,
    jitter: 0.2,
  });
  let current: ChildHandle | undefined;
  const argv = [
    process.execPath,
    h8sBin,
    'runtime',
    '--root',
    join(options.dataDir, 'runtime'),
    '--listen',
    options.endpoint,
  ];

  const pause = (ms: number): Promise<void> =>
    new Promise((resolveWait) => {
      const t = setTimeout(done, ms);
      function done(): void {
        clearTimeout(t);
        signal.removeEventListener('abort', done);
        resolveWait();
      }
      signal.addEventListener('abort', done, { once: true });
    });

  const loop = async (): Promise<void> => {
    while (!signal.aborted) {
      const started = Date.now();
      try {
        // The daemon's log lines go to this process's stdout/stderr, beside the server's.
        current = await spawnProcess(argv, {
          extraEnv: options.extraEnv,
          stdio: ['ignore', 'inherit', 'inherit'],
          signal,
          killGraceMs: 10_000,
        });
        log.info('Started the runtime daemon', { pid: current.pid, endpoint: options.endpoint });
        const status = await current.exited;
        current = undefined;
        if (signal.aborted) break;
        log.error('The runtime daemon exited; restarting it', {
          code: status.code,
          signal: status.signal,
        });
      } catch (err) {
        current = undefined;
        if (signal.aborted) break;
        log.error('Cannot start the runtime daemon', { error: describeError(err) });
      }
      if (Date.now() - started >= healthyRunMs) backoff.reset();
      await pause(backoff.next());
    }
  };

  return { done: loop(), pid: () => current?.pid };
}
