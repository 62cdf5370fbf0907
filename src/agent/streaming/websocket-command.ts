/**
 * exec and attach over WebSocket (apimachinery's wsstream, the `v4.channel.k8s.io` and
 * `v5.channel.k8s.io` subprotocols kubectl 1.30+ and @kubernetes/client-node use): binary
 * messages whose first byte is the channel (0 stdin, 1 stdout, 2 stderr, 3 the final Status,
 * 4 terminal size JSON); v5 adds `[255, channel]`, closing a channel (stdin EOF).
 */
import { EventEmitter, on } from 'node:events';
import { PassThrough, Writable } from 'node:stream';
import type { WebSocket } from 'ws';
import type { TerminalSize } from '../../runtime/index.js';
import { parseResizeMessages, type CommandRequest, type CommandStreams } from './remote-command.js';

export const channelProtocols = ['v5.channel.k8s.io', 'v4.channel.k8s.io'] as const;

const ch = { stdin: 0, stdout: 1, stderr: 2, error: 3, resize: 4, close: 255 } as const;

function channelWriter(ws: WebSocket, channel: number): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, callback) {
      if (ws.readyState !== ws.OPEN) {
        callback();
        return;
      }
      ws.send(Buffer.concat([Uint8Array.of(channel), chunk]), { binary: true }, (err) =>
        callback(err ?? null),
      );
    },
  });
}

/** The CommandStreams of an accepted WebSocket. */
export function webSocketCommandStreams(ws: WebSocket, req: CommandRequest): CommandStreams {
  const stdin = req.hasStdin ? new PassThrough() : undefined;
  const sizes = new EventEmitter();
  const stop = new AbortController();
  const gone = new Promise<void>((resolve) => {
    ws.on('close', () => {
      stdin?.end();
      stop.abort();
      resolve();
    });
  });
  // An error event without a listener would throw; the close that follows is what we act on.
  ws.on('error', () => undefined);
  stdin?.on('drain', () => ws.resume());
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (!isBinary || data.length === 0) return;
    const channel = data[0];
    const payload = data.subarray(1);
    if (channel === ch.stdin && stdin && !stdin.writableEnded) {
      if (!stdin.write(payload)) ws.pause();
    } else if (channel === ch.resize) {
      for (const size of parseResizeMessages(payload.toString('utf8'))) sizes.emit('size', size);
    } else if (channel === ch.close && payload[0] === ch.stdin) {
      stdin?.end();
    }
  });
  async function* resizes(): AsyncIterable<TerminalSize> {
    try {
      for await (const [size] of on(sizes, 'size', { signal: stop.signal })) yield size as TerminalSize;
    } catch {
      // aborted: the client went away
    }
  }
  return {
    ...(stdin ? { stdin } : {}),
    ...(req.hasStdout ? { stdout: channelWriter(ws, ch.stdout) } : {}),
    ...(req.hasStderr && !req.isTty ? { stderr: channelWriter(ws, ch.stderr) } : {}),
    ...(req.isTty ? { resizes: resizes() } : {}),
    writeStatus: (status) =>
      new Promise<void>((resolve, reject) => {
        if (ws.readyState !== ws.OPEN) {
          resolve();
          return;
        }
        const body = Buffer.from(JSON.stringify(status));
        ws.send(Buffer.concat([Uint8Array.of(ch.error), body]), { binary: true }, (err) =>
          err ? reject(err) : resolve(),
        );
      }),
    close: () => {
      if (ws.readyState === ws.OPEN) ws.close(1000);
    },
    gone,
  };
}
