/**
 * The daemon's side of the runc shim (shim/h8s-runc-shim.c): watching a container monitor for
 * its exit, attaching to a container's stdio through the monitor's socket, and driving one
 * exec session (a non-detached `shim exec` child with stdio pipes, a control pipe for resize
 * and a status pipe for the start result and the exit code).
 */
import { connect, type Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import type { ChildHandle } from '../../lib/index.js';
import { internal } from '../../lib/index.js';
import { ByteChannel } from '../byte-channel.js';
import type { StreamSession, TerminalSize } from '../runtime-service.js';
import { FrameDecoder, channel, encodeData, encodeFrame } from '../stream-frames.js';

export const helloWantsOutput = 1;
export const helloSendsStdin = 2;

export interface ShimExit {
  readonly exitCode: number;
  readonly signal: number;
  readonly pid: number;
  readonly finishedAtNs: number;
}

/** Parses exit.json / an exit frame. */
export function parseShimExit(text: string): ShimExit | undefined {
  try {
    const v = JSON.parse(text) as Record<string, unknown>;
    if (typeof v['exitCode'] !== 'number') return undefined;
    const fin = typeof v['finishedAtNs'] === 'string' ? Number(BigInt(v['finishedAtNs'])) : Date.now() * 1e6;
    return {
      exitCode: v['exitCode'],
      signal: typeof v['signal'] === 'number' ? v['signal'] : 0,
      pid: typeof v['pid'] === 'number' ? v['pid'] : 0,
      finishedAtNs: fin,
    };
  } catch {
    return undefined;
  }
}

/** Connects to a monitor's socket and says hello. @throws when the monitor is gone */
export async function connectShim(socketPath: string, flags: number): Promise<Socket> {
  const sock = await new Promise<Socket>((resolve, reject) => {
    const s = connect(socketPath);
    s.once('connect', () => {
      s.removeListener('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
  sock.write(encodeFrame(channel.hello, Uint8Array.of(flags)));
  return sock;
}

/**
 * Watches a monitor: resolves when the container has exited (exit frame) or the monitor's
 * socket closed (the monitor exited or died; the caller reads exit.json to tell which).
 */
export async function watchShim(socketPath: string): Promise<{ ended: Promise<ShimExit | undefined> }> {
  const sock = await connectShim(socketPath, 0);
  const decoder = new FrameDecoder();
  const ended = new Promise<ShimExit | undefined>((resolve) => {
    let exit: ShimExit | undefined;
    sock.on('data', (chunk: Buffer) => {
      try {
        for (const f of decoder.push(chunk)) {
          if (f.channel === channel.status) exit = parseShimExit(f.payload.toString('utf8'));
        }
      } catch {
        sock.destroy();
      }
    });
    sock.on('error', () => {});
    sock.on('close', () => resolve(exit));
  });
  return { ended };
}

function writeAsync(w: Writable | Socket, data: Uint8Array): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (w.destroyed || w.writableEnded) {
      reject(internal('The stream is closed'));
      return;
    }
    w.write(data, (err) => (err ? reject(err) : resolve()));
  });
}

/** An attach session over a monitor socket. `containerExit` settles when the container exits. */
export function createAttachSession(
  sock: Socket,
  options: { stdout: boolean; stderr: boolean; tty: boolean },
  containerExit: Promise<{ exitCode: number }>,
): StreamSession {
  const stdout = new ByteChannel({ onPause: () => sock.pause(), onResume: () => sock.resume() });
  const stderr = new ByteChannel({ onPause: () => sock.pause(), onResume: () => sock.resume() });
  if (!options.stdout) stdout.end();
  if (!options.stderr || options.tty) stderr.end();
  const decoder = new FrameDecoder();
  let resolveExit!: (v: { exitCode: number }) => void;
  const frameExit = new Promise<{ exitCode: number }>((r) => (resolveExit = r));
  sock.on('data', (chunk: Buffer) => {
    let frames;
    try {
      frames = decoder.push(chunk);
    } catch {
      sock.destroy();
      return;
    }
    for (const f of frames) {
      if (f.channel === channel.stdout && options.stdout) stdout.push(f.payload);
      else if (f.channel === channel.stderr) {
        if (options.tty) {
          if (options.stdout) stdout.push(f.payload);
        } else if (options.stderr) stderr.push(f.payload);
      } else if (f.channel === channel.status) {
        const e = parseShimExit(f.payload.toString('utf8'));
        if (e) resolveExit({ exitCode: e.exitCode });
      }
    }
  });
  sock.on('error', () => {});
  sock.on('close', () => {
    stdout.end();
    stderr.end();
  });
  const exit = Promise.race([frameExit, containerExit]);
  return {
    writeStdin: (data) => writeAsync(sock, Buffer.concat(encodeData(channel.stdin, data))),
    closeStdin: () => writeAsync(sock, encodeFrame(channel.close, Uint8Array.of(channel.stdin))),
    resize: (size: TerminalSize) => writeAsync(sock, resizeFrame(size)),
    stdout,
    stderr,
    exit,
    close: async () => {
      sock.destroy();
      stdout.end();
      stderr.end();
    },
  };
}

/** The shim's binary resize frame: u16 columns, u16 rows. */
export function resizeFrame(size: TerminalSize): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt16BE(Math.min(65535, Math.max(0, size.width)), 0);
  p.writeUInt16BE(Math.min(65535, Math.max(0, size.height)), 2);
  return encodeFrame(channel.resize, p);
}

export interface ExecStartResult {
  readonly pid: number;
}

/** Reads `started <pid>` or `error <code> <message>` from the status pipe. */
export function readExecStatus(status: Readable): {
  started: Promise<{ ok: true; pid: number } | { ok: false; code: number; message: string }>;
  exit: Promise<number | undefined>;
} {
  let buf = '';
  let resolveStarted!: (v: { ok: true; pid: number } | { ok: false; code: number; message: string }) => void;
  let resolveExit!: (v: number | undefined) => void;
  const started = new Promise<{ ok: true; pid: number } | { ok: false; code: number; message: string }>(
    (r) => (resolveStarted = r),
  );
  const exit = new Promise<number | undefined>((r) => (resolveExit = r));
  status.setEncoding('utf8');
  status.on('data', (s: string) => {
    buf += s;
    if (buf.length > 64 * 1024) buf = buf.slice(-64 * 1024);
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const [word, a, ...rest] = line.split(' ');
      if (word === 'started') resolveStarted({ ok: true, pid: Number(a) });
      else if (word === 'error') resolveStarted({ ok: false, code: Number(a), message: rest.join(' ') });
      else if (word === 'exit') resolveExit(Number(a));
    }
  });
  status.on('error', () => {});
  status.on('close', () => {
    resolveStarted({ ok: false, code: 128, message: 'the exec helper exited before starting the process' });
    resolveExit(undefined);
  });
  return { started, exit };
}

/** A StreamSession over a running `shim exec` child (stdio pipes + control pipe on fd 3). */
export function createExecSession(
  child: ChildHandle,
  options: { tty: boolean; stdout: boolean; stderr: boolean },
  exitCode: Promise<number>,
  onClose: () => void,
): StreamSession {
  const raw = child.raw;
  const ctl = raw.stdio[3] as Writable | null;
  const out = child.stdout;
  const err = child.stderr;
  const stdout = new ByteChannel({ onPause: () => out?.pause(), onResume: () => out?.resume() });
  const stderr = new ByteChannel({ onPause: () => err?.pause(), onResume: () => err?.resume() });
  const pipe = (src: Readable | null, dst: ByteChannel, wanted: boolean): void => {
    if (!src) {
      dst.end();
      return;
    }
    src.on('data', (c: Buffer) => {
      if (wanted) dst.push(c);
    });
    src.on('error', () => {});
    src.on('close', () => dst.end());
    if (!wanted) dst.end();
  };
  pipe(out, stdout, options.stdout);
  pipe(err, stderr, options.stderr && !options.tty);
  ctl?.on('error', () => {});
  child.stdin?.on('error', () => {});
  // the exit code counts once both outputs have ended (all output delivered)
  const outputsDone = Promise.all([
    new Promise<void>((r) => (out ? out.once('close', () => r()) : r())),
    new Promise<void>((r) => (err ? err.once('close', () => r()) : r())),
  ]);
  // A process that leaves a background child holding its stdout would keep the session open
  // until that child ends (as `docker exec` can): once the exec'd process itself has exited,
  // give the output two seconds to drain, then end the session.
  const exit = exitCode.then(async (code) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const drained = await Promise.race([
      outputsDone.then(() => true),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 2000))),
    ]);
    if (timer) clearTimeout(timer);
    if (!drained) {
      out?.destroy();
      err?.destroy();
      stdout.end();
      stderr.end();
    }
    return { exitCode: code };
  });
  let closed = false;
  return {
    writeStdin: async (data) => {
      if (!child.stdin) throw internal('This exec session has no stdin');
      await writeAsync(child.stdin, data);
    },
    closeStdin: async () => {
      child.stdin?.end();
    },
    resize: async (size) => {
      if (ctl && !ctl.destroyed) await writeAsync(ctl, resizeFrame(size));
    },
    stdout,
    stderr,
    exit,
    close: async () => {
      if (closed) return;
      closed = true;
      ctl?.destroy(); // EOF on the control pipe: the helper kills the process
      child.stdin?.destroy();
      stdout.end();
      stderr.end();
      await Promise.race([child.exited, new Promise((r) => setTimeout(r, 5000))]);
      if (!(await isExited(child))) child.kill('SIGKILL');
      onClose();
    },
  };
}

async function isExited(child: ChildHandle): Promise<boolean> {
  return child.raw.exitCode !== null || child.raw.signalCode !== null;
}
