/**
 * The client side of a framed stream (see stream-session-frames.ts for the daemon side): a
 * StreamSession rebuilt from frames, and the status frame's exit code or error.
 */
import type { Duplex } from 'node:stream';
import { H8sError, internal } from '../lib/index.js';
import { ByteChannel } from './byte-channel.js';
import type { StreamSession } from './runtime-service.js';
import { FrameDecoder, channel, encodeData, encodeFrame, encodeJsonFrame } from './stream-frames.js';
import { errorFromBody } from './wire-errors.js';

/** Parses a status frame into an exit code or a thrown H8sError. */
export function parseStatusFrame(payload: Buffer): { exitCode: number } {
  let v: unknown;
  try {
    v = JSON.parse(payload.toString('utf8'));
  } catch {
    throw internal('The runtime sent a malformed status frame');
  }
  const o = v as { exitCode?: unknown; error?: { code?: unknown; message?: unknown; details?: unknown } };
  if (typeof o.exitCode === 'number') return { exitCode: o.exitCode };
  if (o.error && typeof o.error === 'object') throw errorFromBody(500, o.error);
  throw internal('The runtime sent a status frame without an exit code');
}

/** A StreamSession on the client side of an upgraded connection. */
export function clientSession(sock: Duplex, head: Buffer, options: { tty: boolean }): StreamSession {
  const stdout = new ByteChannel({ onPause: () => sock.pause(), onResume: () => sock.resume() });
  const stderr = new ByteChannel({ onPause: () => sock.pause(), onResume: () => sock.resume() });
  const decoder = new FrameDecoder();
  let settle!: (r: { exitCode: number } | Error) => void;
  const result = new Promise<{ exitCode: number } | Error>((r) => (settle = r));
  const onData = (chunk: Buffer): void => {
    let frames;
    try {
      frames = decoder.push(chunk);
    } catch (err) {
      settle(err as Error);
      sock.destroy();
      return;
    }
    for (const f of frames) {
      if (f.channel === channel.stdout) stdout.push(f.payload);
      else if (f.channel === channel.stderr) (options.tty ? stdout : stderr).push(f.payload);
      else if (f.channel === channel.status) {
        try {
          settle(parseStatusFrame(f.payload));
        } catch (err) {
          settle(err as Error);
        }
      }
    }
  };
  sock.on('data', onData);
  sock.on('error', () => {});
  sock.on('close', () => {
    stdout.end();
    stderr.end();
    settle(new H8sError('ServiceUnavailable', 'The stream to the runtime closed before the process exited'));
  });
  if (head.length) onData(head);
  const exit = result.then((r) => {
    if (r instanceof Error) throw r;
    return r;
  });
  exit.catch(() => {}); // observed by callers through `exit`
  const send = (data: Buffer): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      if (sock.destroyed || sock.writableEnded) {
        reject(new H8sError('Conflict', 'The stream is closed'));
        return;
      }
      sock.write(data, (err) => (err ? reject(err) : resolve()));
    });
  return {
    writeStdin: (data) => send(Buffer.concat(encodeData(channel.stdin, data))),
    closeStdin: () => send(encodeFrame(channel.close, Uint8Array.of(channel.stdin))),
    resize: (size) => send(encodeJsonFrame(channel.resize, { width: size.width, height: size.height })),
    stdout,
    stderr,
    exit,
    close: async () => {
      sock.destroy();
    },
  };
}
