/**
 * port-forward over SPDY (`portforward.k8s.io`), plain or tunnelled in WebSocket binary
 * messages (kubectl 1.31+'s `SPDY/3.1+portforward.k8s.io`). For every local connection the
 * client opens two streams with the same `requestid` and `port` headers: `error` (which we
 * write a message on when the pod's port cannot be reached) and `data` (the connection's
 * bytes both ways, FIN for each direction's end). One runtime port-forward per pair.
 */
import type { Duplex } from 'node:stream';
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
