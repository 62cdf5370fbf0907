/**
 * The only place in src/ that spawns processes (DESIGN.md section 2, STYLE.md example 7).
 *
 * Programs run as argv arrays (never a shell string built from data), with a timeout and an
 * AbortSignal. Output kept in memory is capped so a chatty program cannot exhaust the heap.
 * Every long-lived child has one owner: `spawnProcess` kills it when the owner's signal aborts,
 * unless it was started `detached` on purpose (VMs and shims that must outlive the daemon).
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { internal, timeout as timeoutError } from './errors.js';

export interface ExecOptions {
  /** Kill the program (SIGKILL) after this long. Default 60 s. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /** Written to stdin, which is then closed. Without it stdin is /dev/null. */
  readonly input?: string | Uint8Array;
  readonly cwd?: string;
  /** Environment; defaults to the parent's. Use `extraEnv` to add to it. */
  readonly env?: Readonly<Record<string, string>>;
  readonly extraEnv?: Readonly<Record<string, string>>;
  /** Bytes of stdout and of stderr kept in memory each; the rest is dropped. Default 64 MiB. */
  readonly maxOutputBytes?: number;
  /** When false, a non-zero exit is returned instead of thrown. Default true. */
  readonly check?: boolean;
}

export interface ExecResult {
  readonly exitCode: number;
  /** The signal that ended the program, if one did. */
  readonly exitSignal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly stdoutBytes: Buffer;
  readonly durationMs: number;
}

const defaultTimeoutMs = 60_000;
const defaultMaxOutputBytes = 64 * 1024 * 1024;

function childEnv(options: {
  env?: Readonly<Record<string, string>>;
  extraEnv?: Readonly<Record<string, string>>;
}) {
  // eslint-disable-next-line no-restricted-properties -- inheriting the parent's environment is exec's job
  const base = options.env ?? (process.env as Record<string, string>);
  return options.extraEnv ? { ...base, ...options.extraEnv } : base;
}

function collect(stream: Readable | null, cap: number): { done: Promise<Buffer> } {
  const chunks: Buffer[] = [];
  let size = 0;
  const done = new Promise<Buffer>((resolve) => {
    if (!stream) {
      resolve(Buffer.alloc(0));
      return;
    }
    stream.on('data', (c: Buffer) => {
      if (size >= cap) return;
      const take = c.subarray(0, cap - size);
      chunks.push(take);
      size += take.length;
    });
    stream.on('error', () => resolve(Buffer.concat(chunks)));
    stream.on('close', () => resolve(Buffer.concat(chunks)));
  });
  return { done };
}

function tail(text: string, max = 2000): string {
  const t = text.trim();
  return t.length > max ? '…' + t.slice(t.length - max) : t;
}

/**
 * Runs `argv` to completion and returns its output.
 * @throws InternalError when the program cannot start or (with `check`) exits non-zero;
 *   Timeout when `timeoutMs` passes; the signal's reason when it aborts.
 */
export async function execFile(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  const [file, ...args] = argv;
  if (file === undefined) throw internal('Cannot run a program: the command line is empty');
  const started = performance.now();
  const timeoutMs = options.timeoutMs ?? defaultTimeoutMs;
  const cap = options.maxOutputBytes ?? defaultMaxOutputBytes;
  options.signal?.throwIfAborted();

  const child = spawn(file, args, {
    cwd: options.cwd,
    env: childEnv(options),
    stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  const out = collect(child.stdout, cap);
  const err = collect(child.stderr, cap);
  if (options.input !== undefined && child.stdin) {
    child.stdin.on('error', () => {}); // the program may exit without reading its input
    child.stdin.end(options.input);
  }

  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  const onAbort = (): void => {
    child.kill('SIGKILL');
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });

  try {
    const [exitCode, exitSignal] = await new Promise<[number, NodeJS.Signals | null]>((resolve, reject) => {
      child.once('error', (e) => reject(internal(`Cannot run "${file}": ${e.message}`, { cause: e })));
      child.once('close', (code, sig) => resolve([code ?? -1, sig]));
    });
    const [stdoutBytes, stderrBytes] = await Promise.all([out.done, err.done]);
    const result: ExecResult = {
      exitCode,
      exitSignal,
      stdout: stdoutBytes.toString('utf8'),
      stderr: stderrBytes.toString('utf8'),
      stdoutBytes,
      durationMs: performance.now() - started,
    };
    options.signal?.throwIfAborted();
    if (timedOut) {
      throw timeoutError(`Command "${file}" did not finish within ${timeoutMs} ms`);
    }
    if ((options.check ?? true) && exitCode !== 0) {
      const why = exitSignal ? `was killed by ${exitSignal}` : `exited with code ${exitCode}`;
      const detail = tail(result.stderr) || tail(result.stdout);
      throw internal(
        `Command "${[file, ...args].join(' ').slice(0, 300)}" ${why}${detail ? ': ' + detail : ''}`,
      );
    }
    return result;
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
  }
}

export interface SpawnOptions {
  readonly cwd?: string;
  readonly env?: Readonly<Record<string, string>>;
  readonly extraEnv?: Readonly<Record<string, string>>;
  /** Node stdio setting; default: stdin ignored, stdout and stderr piped. */
  readonly stdio?: StdioOptions;
  /**
   * The owner's lifetime: when it aborts, the child gets SIGTERM and, after `killGraceMs`,
   * SIGKILL. Omit it only for `detached` children that must outlive this process.
   */
  readonly signal?: AbortSignal;
  readonly killGraceMs?: number;
  /** Start in its own session and do not keep this process alive for it (VMs, shims). */
  readonly detached?: boolean;
}

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A running child process with one owner. */
export interface ChildHandle {
  readonly pid: number;
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  /** Resolves when the child has exited (never rejects). */
  readonly exited: Promise<ExitStatus>;
  /** Sends a signal; false if the child is already gone. */
  kill(signal?: NodeJS.Signals): boolean;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it has exited. */
  stop(graceMs?: number): Promise<ExitStatus>;
  /** The underlying Node object, for fd passing and similar low-level needs. */
  readonly raw: ChildProcess;
}

/**
 * Starts a long-lived program.
 * @throws InternalError when the program cannot be started (missing binary, bad cwd).
 */
export async function spawnProcess(
  argv: readonly string[],
  options: SpawnOptions = {},
): Promise<ChildHandle> {
  const [file, ...args] = argv;
  if (file === undefined) throw internal('Cannot start a program: the command line is empty');
  options.signal?.throwIfAborted();
  const child = spawn(file, args, {
    cwd: options.cwd,
    env: childEnv(options),
    stdio: options.stdio ?? ['ignore', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', () => resolve());
    child.once('error', (e) => reject(internal(`Cannot start "${file}": ${e.message}`, { cause: e })));
  });
  const exited = new Promise<ExitStatus>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve({ code: child.exitCode, signal: child.signalCode });
      return;
    }
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  if (options.detached) child.unref();
  const graceDefault = options.killGraceMs ?? 5_000;
  const stop = async (graceMs = graceDefault): Promise<ExitStatus> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(t);
      }
    }
    return exited;
  };
  if (options.signal) {
    const onAbort = (): void => {
      void stop();
    };
    options.signal.addEventListener('abort', onAbort, { once: true });
    void exited.then(() => options.signal?.removeEventListener('abort', onAbort));
  }
  if (child.pid === undefined) throw internal(`Cannot start "${file}": no process id`);
  return {
    pid: child.pid,
    stdin: child.stdin,
    stdout: child.stdout,
    stderr: child.stderr,
    exited,
    kill: (sig = 'SIGTERM') => child.kill(sig),
    stop,
    raw: child,
  };
}

/** Whether a process with this pid exists (signal 0). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Finds an executable on PATH (or returns an absolute path as is); undefined when missing. */
export async function findExecutable(name: string): Promise<string | undefined> {
  const { access, constants } = await import('node:fs/promises');
  const { delimiter, join } = await import('node:path');
  const candidates = name.includes('/')
    ? [name]
    : // eslint-disable-next-line no-restricted-properties -- PATH lookup mirrors what spawn does
      (process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter).map((d) => join(d, name));
  for (const c of candidates) {
    try {
      await access(c, constants.X_OK);
      return c;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

/**
 * How a component runs programs: `execFile` and `spawnProcess` as a dependency, so tests can
 * inject one that records or answers (STYLE.md: inject what is slow, privileged or
 * nondeterministic). Components default to `systemExec`.
 */
export interface Exec {
  execFile(argv: readonly string[], options?: ExecOptions): Promise<ExecResult>;
  spawnProcess(argv: readonly string[], options?: SpawnOptions): Promise<ChildHandle>;
}

/** The real `execFile` and `spawnProcess` of this module. */
export const systemExec: Exec = { execFile, spawnProcess };
