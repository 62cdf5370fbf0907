/**
 * exec and attach over SPDY (`v4.channel.k8s.io` via `X-Stream-Protocol-Version`, what kubectl
 * 1.20-1.29 speak and newer ones fall back to): the client opens one stream per channel,
 * named by its `streamtype` header (error, stdin, stdout, stderr, resize). We reply to each,
 * start the command once every stream the request asked for is there (kubelet waits the
 * same way, 30 s at most), and at the end write the Status on `error` and close.
 */
import { EventEmitter, on } from 'node:events';
import type { Duplex } from 'node:stream';
import type { Logger } from '../../lib/index.js';
import type { TerminalSize } from '../../runtime/index.js';
import { parseResizeMessages, type CommandRequest, type CommandStreams } from './remote-command.js';
import { SpdyServerConnection, type SpdyStream } from './spdy-connection.js';

const streamCreationTimeoutMs = 30_000;

/**
 * Waits for the client's streams on `socket` and returns the CommandStreams, or undefined
 * when they did not all come in time (the connection is then closed).
 */
export async function spdyCommandStreams(
  socket: Duplex,
  req: CommandRequest,
  log: Logger,
): Promise<CommandStreams | undefined> {
  const byType = new Map<string, SpdyStream>();
  const needed = ['error'];
  if (req.hasStdin) needed.push('stdin');
  if (req.hasStdout) needed.push('stdout');
  if (req.hasStderr && !req.isTty) needed.push('stderr');
  let onChange!: () => void;
  const complete = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), streamCreationTimeoutMs);
    onChange = () => {
      if (needed.every((t) => byType.has(t))) {
        clearTimeout(timer);
        resolve(true);
      }
    };
  });
  const sizes = new EventEmitter();
  const stop = new AbortController();
  const conn = new SpdyServerConnection(socket, {
    log,
    onStream: (s) => {
      s.reply();
      const type = s.headers['streamtype'] ?? '';
      if (byType.has(type) || !['error', 'stdin', 'stdout', 'stderr', 'resize'].includes(type)) {
        s.destroy();
        return;
      }
      byType.set(type, s);
      if (type === 'resize') {
        let pending = '';
        s.on('data', (chunk: Buffer) => {
          // JSON objects, one a line (Go's json.Encoder); a runaway line is dropped.
          const lines = (pending + chunk.toString('utf8')).split('\n');
          pending = (lines.pop() ?? '').slice(0, 4096);
          for (const size of parseResizeMessages(lines.join('\n'))) sizes.emit('size', size);
        });
      }
      if (type === 'error' || type === 'stdout' || type === 'stderr') s.resume(); // nothing to read
      onChange();
    },
  });
  void conn.closed.then(() => stop.abort());
  if (!(await complete)) {
    log.info('Closed a SPDY stream connection: the client did not open its streams in time');
    conn.close();
    return undefined;
  }
  async function* resizes(): AsyncIterable<TerminalSize> {
    try {
      for await (const [size] of on(sizes, 'size', { signal: stop.signal })) yield size as TerminalSize;
    } catch {
      // aborted: the connection closed
    }
  }
  const error = byType.get('error') as SpdyStream;
  const stdin = byType.get('stdin');
  const stdout = byType.get('stdout');
  const stderr = byType.get('stderr');
  return {
    ...(stdin ? { stdin } : {}),
    ...(stdout ? { stdout } : {}),
    ...(stderr ? { stderr } : {}),
    ...(req.isTty ? { resizes: resizes() } : {}),
    writeStatus: (status) =>
      new Promise<void>((resolve) => {
        error.end(JSON.stringify(status), () => resolve());
      }),
    close: () => {
      for (const s of [stdout, stderr]) if (s && !s.writableEnded) s.end();
      // Let the FINs go out before the GOAWAY and the connection's end.
      setImmediate(() => conn.close());
    },
    gone: conn.closed,
  };
}
