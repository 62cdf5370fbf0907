/**
 * Carrying a StreamSession over a framed byte stream (stream-frames.ts), daemon side:
 * `serveSession` pumps a session's stdout/stderr out as frames, feeds stdin, close and resize
 * frames in, and ends with one status frame carrying the exit code. The client side is
 * stream-session-client.ts.
 *
 * Flow control is the socket's: the daemon stops reading a session's output while the socket
 * is congested, and stops reading the socket while stdin is being written.
 */
import type { Duplex } from 'node:stream';
import { bestEffort, describeError, matchesSchema, type Logger } from '../lib/index.js';
import { TerminalSizeSchema } from './api-schemas.js';
import type { StreamSession, TerminalSize } from './runtime-service.js';
import { FrameDecoder, channel, encodeData, encodeJsonFrame } from './stream-frames.js';
import { errorBody } from './wire-errors.js';

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
    void bestEffort(log, 'close a session whose client went away', session.close());
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
