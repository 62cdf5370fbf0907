/**
 * The node's daemons that `h8s server` starts beside the control plane (DESIGN.md section 1:
 * one command gives a working node): the runtime daemon (`h8s runtime`) and the node agent
 * (`h8s agent`). Each runs as its own process, so that a busy image unpack never stalls the
 * API server and a crash of one leaves the others up. The server restarts a child with
 * back-off when it dies; stopping the server stops them with SIGTERM, which leaves pods
 * running (the next daemons re-adopt them).
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Backoff, describeError, spawnProcess, type ChildHandle, type Logger } from '../lib/index.js';

// The same build as this process: dist/ through bin/h8s.js, or the sources through bin/h8s-dev.js.
const h8sBin = fileURLToPath(
  new URL(import.meta.url.endsWith('.ts') ? '../../bin/h8s-dev.js' : '../../bin/h8s.js', import.meta.url),
);

export interface SupervisedChildOptions {
  /** What the log lines call it: `runtime daemon`, `node agent`. */
  readonly name: string;
  /** The `h8s` subcommand and its flags. */
  readonly args: readonly string[];
  /** Variables for the child on top of this process's environment. */
  readonly extraEnv: Readonly<Record<string, string>>;
  readonly log: Logger;
  readonly signal: AbortSignal;
  /** Restart delays; defaults 1 s doubling to 30 s. */
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
}

export interface SupervisedChild {
  /** Resolves once the signal has aborted and the daemon has exited. */
  readonly done: Promise<void>;
  /** Pid of the daemon now running, if any. */
  pid(): number | undefined;
}

/** A run that lasted this long counts as healthy: the next crash restarts at once. */
const healthyRunMs = 60_000;

/** Runs `h8s <args>` until `signal` aborts, restarting it with back-off when it exits. */
export function superviseChild(options: SupervisedChildOptions): SupervisedChild {
  const { log, signal } = options;
  const backoff = new Backoff({
    initialMs: options.backoff?.initialMs ?? 1_000,
    maxMs: options.backoff?.maxMs ?? 30_000,
    jitter: 0.2,
  });
  let current: ChildHandle | undefined;
  const argv = [process.execPath, h8sBin, ...options.args];

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
        log.info(`Started the ${options.name}`, { pid: current.pid });
        const status = await current.exited;
        current = undefined;
        if (signal.aborted) break;
        log.error(`The ${options.name} exited; restarting it`, {
          code: status.code,
          signal: status.signal,
        });
      } catch (err) {
        current = undefined;
        if (signal.aborted) break;
        log.error(`Cannot start the ${options.name}`, { error: describeError(err) });
      }
      if (Date.now() - started >= healthyRunMs) backoff.reset();
      await pause(backoff.next());
    }
  };

  return { done: loop(), pid: () => current?.pid };
}

interface NodeChildOptions {
  /** The server's data dir; the child keeps its state below it. */
  readonly dataDir: string;
  /** `unix:///path.sock` the runtime serves on. */
  readonly runtimeEndpoint: string;
  readonly extraEnv: Readonly<Record<string, string>>;
  readonly log: Logger;
  readonly signal: AbortSignal;
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
}

/** The runtime daemon, state in `<data-dir>/runtime`. */
export function superviseRuntime(options: NodeChildOptions): SupervisedChild {
  return superviseChild({
    ...options,
    name: 'runtime daemon',
    args: ['runtime', '--root', join(options.dataDir, 'runtime'), '--listen', options.runtimeEndpoint],
  });
}

/**
 * The node agent, state in `<data-dir>/agent`, joining `server` with the join token in
 * `tokenFile` (it keeps its client certificate there).
 */
export function superviseAgent(
  options: NodeChildOptions & {
    readonly nodeName: string;
    readonly server: string;
    readonly tokenFile: string;
  },
): SupervisedChild {
  return superviseChild({
    ...options,
    name: 'node agent',
    args: [
      'agent',
      '--data-dir',
      join(options.dataDir, 'agent'),
      '--node-name',
      options.nodeName,
      '--server',
      options.server,
      '--token-file',
      options.tokenFile,
      '--runtime-endpoint',
      options.runtimeEndpoint,
    ],
  });
}
