/**
 * exec and attach (kubelet's remotecommand server): a runtime StreamSession carried over the
 * client's protocol. The protocol adapters (WebSocket channels, SPDY streams) turn their
 * transport into `CommandStreams`; `runRemoteCommand` does the rest the same for both:
 * stdin (with half-close), resize, stdout and stderr (with back-pressure), and the final
 * status written on the error channel (Success, or NonZeroExitCode with the exit code, or
 * the error that kept the command from starting).
 */
import type { Readable, Writable } from 'node:stream';
import { bestEffort, describeError, type Logger } from '../../lib/index.js';
import type { RuntimeService, StreamSession, TerminalSize } from '../../runtime/index.js';
import { errorStatus, exitCodeStatus, successStatus, type StreamStatus } from './streaming-status.js';

export interface CommandRequest {
  readonly kind: 'exec' | 'attach';
  readonly containerId: string;
  /** The command (exec only). */
  readonly cmd: readonly string[];
  readonly hasStdin: boolean;
  readonly hasStdout: boolean;
  readonly hasStderr: boolean;
  readonly isTty: boolean;
}

/** The client's side of a command, whatever the protocol. */
export interface CommandStreams {
  readonly stdin?: Readable;
  readonly stdout?: Writable;
  readonly stderr?: Writable;
  readonly resizes?: AsyncIterable<TerminalSize>;
  writeStatus(status: StreamStatus): Promise<void>;
  /** Ends the connection (after the status). */
  close(): void;
  /** Resolves when the client goes away. */
  readonly gone: Promise<void>;
}

function startSession(runtime: RuntimeService, req: CommandRequest): Promise<StreamSession> {
  if (req.kind === 'exec') {
    return runtime.exec(req.containerId, {
      cmd: req.cmd,
      tty: req.isTty,
      stdin: req.hasStdin,
      stdout: req.hasStdout,
      stderr: req.hasStderr && !req.isTty,
    });
  }
  return runtime.attach(req.containerId, {
    tty: req.isTty,
    stdin: req.hasStdin,
    stdout: req.hasStdout,
    stderr: req.hasStderr && !req.isTty,
  });
}

async function pump(from: AsyncIterable<Uint8Array>, to: Writable | undefined): Promise<void> {
  for await (const chunk of from) {
    if (!to || to.destroyed) continue; // keep reading so the process is never held up
    if (!to.write(chunk)) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          to.off('drain', done);
          to.off('close', done);
          resolve();
        };
        to.on('drain', done);
        to.on('close', done);
      });
    }
  }
  if (to && !to.destroyed && !to.writableEnded) to.end();
}

/** Runs the command to its end; never rejects (failures go to the client as a Status). */
export async function runRemoteCommand(
  runtime: RuntimeService,
  req: CommandRequest,
  streams: CommandStreams,
  log: Logger,
): Promise<void> {
  let session: StreamSession;
  try {
    session = await startSession(runtime, req);
  } catch (err) {
    await bestEffort(log, 'writing the status of a remote command', streams.writeStatus(errorStatus(err)));
    streams.close();
    return;
  }
  let isOver = false;
  void streams.gone.then(() => {
    // The client left first: detach (attach) or kill (exec).
    if (!isOver)
      session
        .close()
        .catch((err: unknown) => log.debug('Closing a session failed', { error: describeError(err) }));
  });
  const input = (async () => {
    if (!streams.stdin) return;
    for await (const chunk of streams.stdin as AsyncIterable<Buffer>) await session.writeStdin(chunk);
    await session.closeStdin();
  })().catch((err: unknown) => log.debug('Stdin of a remote command ended', { error: describeError(err) }));
  const resizes = (async () => {
    if (!streams.resizes) return;
    for await (const size of streams.resizes) await session.resize(size);
  })().catch((err: unknown) => log.debug('Resize of a remote command failed', { error: describeError(err) }));
  let status: StreamStatus;
  try {
    await Promise.all([pump(session.stdout, streams.stdout), pump(session.stderr, streams.stderr)]);
    const { exitCode } = await session.exit;
    status = exitCode === 0 || req.kind === 'attach' ? successStatus() : exitCodeStatus(req.cmd, exitCode);
  } catch (err) {
    status = errorStatus(err);
  }
  isOver = true;
  void input;
  void resizes;
  await bestEffort(log, 'writing the status of a remote command', streams.writeStatus(status));
  streams.close();
  await bestEffort(log, 'closing a remote command session', () => session.close());
}

/** Parses the JSON terminal sizes the client sends (`{"Width":80,"Height":24}`, one or more). */
export function parseResizeMessages(text: string): TerminalSize[] {
  const sizes: TerminalSize[] = [];
  for (const part of text.split('\n')) {
    if (part.trim() === '') continue;
    try {
      const v = JSON.parse(part) as { Width?: unknown; Height?: unknown };
      if (typeof v.Width === 'number' && typeof v.Height === 'number' && v.Width >= 0 && v.Height >= 0) {
        sizes.push({ width: Math.min(v.Width, 65535), height: Math.min(v.Height, 65535) });
      }
    } catch {
      // A malformed size is ignored, as kubelet does.
    }
  }
  return sizes;
}
