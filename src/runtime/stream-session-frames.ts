/**
 * Carrying a StreamSession over a framed byte stream (stream-frames.ts), in both directions:
 *
 * - `serveSession` (daemon side): pumps a session's stdout/stderr out as frames, feeds stdin,
 *   close and resize frames in, and ends with one status frame carrying the exit code.
 * - `clientSession` (client side): the same session, rebuilt from frames on the client.
 *
 * Flow control is the socket's: the daemon stops reading a session's output while the socket
 * is congested, and stops reading the socket while stdin is being written.
 */
import type { Duplex } from 'node:stream';
import { H8sError, describeError, internal, matchesSchema, type Logger } from '../lib/index.js';
import { TerminalSizeSchema } from './api-schemas.js';
import { ByteChannel } from './byte-channel.js';
import type { StreamSession, TerminalSize } from './runtime-service.js';
import { FrameDecoder, channel, encodeData, encodeFrame, encodeJsonFrame } from './stream-frames.js';
import { errorBody, errorFromBody } from './wire-errors.js';

function writeWithBackpressure(sock: Duplex, data: Buffer): Promise<void> {
  if (sock.destroyed || sock.writableEnded) return Promise.resolve();
  if (sock.write(data)) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = (): void => {
      sock.off('drain', done);
      sock.off('close', done);
      resolve();
    };
    sock.on('drain', done);
    sock.on('close', done);
  });
}

/** Serves `session` over `sock` until the process exits or the peer goes away. */
export async function serveSession(
  sock: Duplex,
  session: StreamSession,
  head: Buffer,
  log: Logger,
): Promise<void> {
  const decoder = new FrameDecoder();
  let inputChain = Promise.resolve();
  const handleInput = (chunk: Buffer): void => {
    let frames;
    try {
      frames = decoder.push(chunk);
    } catch (err) {
      log.info('Closed a stream that sent a bad frame', { error: describeError(err) });
      sock.destroy();
      return;
    }
    if (frames.length === 0) return;
    sock.pause();
    inputChain = inputChain
      .then(async () => {
        for (const f of frames) {
          if (f.channel === channel.stdin) await session.writeStdin(f.payload);
          else if (f.channel === channel.close && f.payload[0] === channel.stdin) await session.closeStdin();
          else if (f.channel === channel.resize) {
            let size: unknown;
            try {
              size = JSON.parse(f.payload.toString('utf8'));
            } catch {
              size = undefined;
            }
            if (matchesSchema(TerminalSizeSchema, size)) await session.resize(size as TerminalSize);
          }
        }
      })
      .catch(() => {
        // the process no longer reads stdin: drop what the peer sends, as a pipe would
      })
      .finally(() => {
        if (!sock.destroyed) sock.resume();
      });
  };
  sock.on('data', handleInput);
  let peerGone = false;
  sock.on('close', () => {
    peerGone = true;
    void session.close().catch(() => {});
  });
  sock.on('error', () => {});
  if (head.length) handleInput(head);

  const pump = async (source: AsyncIterable<Uint8Array>, ch: number): Promise<void> => {
    for await (const chunk of source) {
      if (peerGone) break;
      for (const frame of encodeData(ch, chunk)) await writeWithBackpressure(sock, frame);
    }
  };
  try {
    await Promise.all([pump(session.stdout, channel.stdout), pump(session.stderr, channel.stderr)]);
    const exit = await session.exit;
    await writeWithBackpressure(sock, encodeJsonFrame(channel.status, { exitCode: exit.exitCode }));
  } catch (err) {
    if (!peerGone)
      await writeWithBackpressure(sock, encodeJsonFrame(channel.status, { error: errorBody(err).body }));
  } finally {
    sock.end();
  }
}

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
