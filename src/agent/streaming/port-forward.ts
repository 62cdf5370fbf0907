/**
 * port-forward over SPDY (`portforward.k8s.io`), plain or tunnelled in WebSocket binary
 * messages (kubectl 1.31+'s `SPDY/3.1+portforward.k8s.io`). For every local connection the
 * client opens two streams with the same `requestid` and `port` headers: `error` (which we
 * write a message on when the pod's port cannot be reached) and `data` (the connection's
 * bytes both ways, FIN for each direction's end). One runtime port-forward per pair.
 */
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import { describeError, type Logger } from '../../lib/index.js';
import type { RuntimeService } from '../../runtime/index.js';
import { SpdyServerConnection, type SpdyStream } from './spdy-connection.js';

export interface PortForwardTarget {
  readonly sandboxId: string;
  /** For messages: `namespace/name`. */
  readonly podName: string;
}

interface Pair {
  error?: SpdyStream;
  data?: SpdyStream;
  port: number;
}

/** Serves port-forward streams on `socket` until it closes. */
export function servePortForward(
  socket: Duplex,
  target: PortForwardTarget,
  runtime: RuntimeService,
  log: Logger,
): Promise<void> {
  const pairs = new Map<string, Pair>();
  const conn = new SpdyServerConnection(socket, {
    log,
    onStream: (s) => {
      s.reply();
      const type = s.headers['streamtype'];
      const requestId = s.headers['requestid'] ?? '';
      const port = Number(s.headers['port']);
      if ((type !== 'error' && type !== 'data') || !Number.isInteger(port) || port < 1 || port > 65535) {
        s.destroy();
        return;
      }
      const pair = pairs.get(requestId) ?? { port };
      pairs.set(requestId, pair);
      if (pair[type] || pair.port !== port) {
        s.destroy();
        return;
      }
      pair[type] = s;
      if (type === 'error') s.resume(); // the client sends nothing on it
      if (pair.error && pair.data) {
        pairs.delete(requestId);
        void forward(pair as Required<Pair>, target, runtime, log);
      }
    },
  });
  return conn.closed;
}

async function forward(
  pair: Required<Pair>,
  target: PortForwardTarget,
  runtime: RuntimeService,
  log: Logger,
): Promise<void> {
  const { data, error, port } = pair;
  let pod: Duplex;
  try {
    pod = await runtime.portForward(target.sandboxId, port);
  } catch (err) {
    error.end(`error forwarding port ${port} to pod ${target.podName}: ${describeError(err)}`);
    data.end();
    return;
  }
  const finish = (): void => {
    if (!error.writableEnded) error.end();
  };
  pod.on('error', (err) => {
    // Once the pod's side has ended, a failure (the half-close racing the pod's own close)
    // loses nothing: the client already has every byte.
    if (pod.readableEnded) {
      if (!data.writableEnded) data.end();
      finish();
      return;
    }
    log.debug('A port-forward connection to a pod failed', {
      pod: target.podName,
      port,
      error: describeError(err),
    });
    if (!error.writableEnded)
      error.end(`error forwarding port ${port} to pod ${target.podName}: ${err.message}`);
    data.destroy();
  });
  data.on('error', () => pod.destroy());
  data.on('close', () => {
    pod.destroy();
    finish();
  });
  pod.on('close', finish);
  data.pipe(pod);
  pod.pipe(data);
}

/**
 * port-forward over WebSocket channels (kubelet's `v4.channel.k8s.io` port-forward, what
 * @kubernetes/client-node speaks): one connection per port of `?port=`, channel 2i its data
 * and 2i+1 its errors; the first message on each channel starts with the port (uint16, little
 * endian). v5 clients half-close a port's data with `[255, 2i]`.
 */
export async function serveWebSocketPortForward(
  ws: WebSocket,
  ports: readonly number[],
  target: PortForwardTarget,
  runtime: RuntimeService,
  log: Logger,
): Promise<void> {
  ws.on('error', () => undefined); // the close that follows is what we act on
  const conns: (Duplex | undefined)[] = [];
  const early: Buffer[][] = [];
  const endedEarly = new Set<number>();
  const send = (channel: number, data: Uint8Array): void => {
    if (ws.readyState === ws.OPEN) ws.send(Buffer.concat([Uint8Array.of(channel), data]), { binary: true });
  };
  let open = ports.length;
  const done = (): void => {
    if (--open === 0 && ws.readyState === ws.OPEN) ws.close(1000);
  };
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (!isBinary || data.length === 0) return;
    const channel = data[0] as number;
    if (channel === 255) {
      const i = (data[1] ?? 1) / 2;
      if (Number.isInteger(i) && i < ports.length) {
        if (conns[i]) conns[i].end();
        else endedEarly.add(i);
      }
      return;
    }
    if (channel % 2 !== 0 || channel / 2 >= ports.length) return;
    const conn = conns[channel / 2];
    if (!conn) {
      // Not connected yet: kept until it is (bounded by the pause below).
      const queue = (early[channel / 2] ??= []);
      queue.push(data.subarray(1));
      if (queue.length > 16) ws.pause();
      return;
    }
    if (!conn.writableEnded && !conn.write(data.subarray(1))) {
      ws.pause();
      conn.once('drain', () => ws.resume());
    }
  });
  ws.on('close', () => {
    for (const c of conns) c?.destroy();
  });
  await Promise.all(
    ports.map(async (port, i) => {
      const portBytes = Buffer.alloc(2);
      portBytes.writeUInt16LE(port);
      send(2 * i, portBytes);
      send(2 * i + 1, portBytes);
      let conn: Duplex;
      try {
        conn = await runtime.portForward(target.sandboxId, port);
      } catch (err) {
        send(
          2 * i + 1,
          Buffer.from(`error forwarding port ${port} to pod ${target.podName}: ${describeError(err)}`),
        );
        done();
        return;
      }
      conns[i] = conn;
      for (const chunk of early[i] ?? []) conn.write(chunk);
      early[i] = [];
      if (endedEarly.has(i)) conn.end();
      ws.resume();
      conn.on('data', (chunk: Buffer) => send(2 * i, chunk));
      conn.on('error', (err) => {
        log.debug('A port-forward connection to a pod failed', {
          pod: target.podName,
          port,
          error: describeError(err),
        });
        if (!conn.readableEnded)
          send(
            2 * i + 1,
            Buffer.from(`error forwarding port ${port} to pod ${target.podName}: ${err.message}`),
          );
      });
      conn.on('close', done);
    }),
  );
}
