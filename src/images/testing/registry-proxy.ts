/**
 * A loopback HTTP proxy in front of a test registry that records requests and injects faults
 * (cut a response after N bytes, answer with a status, replace a body): for resume, retry,
 * work-sharing and bad-input tests.
 */
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';

export interface ProxiedRequest {
  readonly method: string;
  readonly path: string;
  readonly range?: string;
  readonly authorization?: string;
}

/** What to do with one request: pass it through, or a fault. */
export type ProxyFault =
  | { readonly kind: 'pass' }
  /** Forward, but close the connection after `bytes` of the body. */
  | { readonly kind: 'cut'; readonly bytes: number }
  /** Forward `bytes` of the body, then hold the connection open without sending more. */
  | { readonly kind: 'stall'; readonly bytes: number }
  /** Answer directly with this status and body. */
  | {
      readonly kind: 'status';
      readonly status: number;
      readonly body?: string;
      readonly headers?: Record<string, string>;
    }
  /** Forward, but replace the body with this one (headers adjusted). */
  | { readonly kind: 'body'; readonly body: Buffer; readonly contentType?: string };

export interface RegistryProxy {
  /** `127.0.0.1:<port>` */
  readonly host: string;
  readonly requests: ProxiedRequest[];
  /** Decides per request; default passes everything. */
  fault: (req: ProxiedRequest) => ProxyFault;
  close(): Promise<void>;
}

export async function startRegistryProxy(targetHost: string): Promise<RegistryProxy> {
  const [thost, tport] = [
    targetHost.slice(0, targetHost.lastIndexOf(':')),
    Number(targetHost.slice(targetHost.lastIndexOf(':') + 1)),
  ];
  const proxy: RegistryProxy = {
    host: '',
    requests: [],
    fault: () => ({ kind: 'pass' }),
    close: async () => undefined,
  };
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const info: ProxiedRequest = {
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      ...(typeof req.headers.range === 'string' ? { range: req.headers.range } : {}),
      ...(typeof req.headers.authorization === 'string' ? { authorization: req.headers.authorization } : {}),
    };
    proxy.requests.push(info);
    const fault = proxy.fault(info);
    if (fault.kind === 'status') {
      res.writeHead(fault.status, { 'content-type': 'application/json', ...(fault.headers ?? {}) });
      res.end(fault.body ?? '');
      req.resume();
      return;
    }
    const up = request(
      { host: thost, port: tport, method: req.method, path: req.url, headers: { ...req.headers } },
      (ur) => {
        if (fault.kind === 'body') {
          const headers: Record<string, string | string[] | undefined> = {
            ...ur.headers,
            'content-length': String(fault.body.length),
          };
          if (fault.contentType) headers['content-type'] = fault.contentType;
          delete headers['docker-content-digest'];
          res.writeHead(ur.statusCode ?? 502, headers);
          res.end(fault.body);
          ur.resume();
          return;
        }
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        if (fault.kind === 'stall') {
          let sent = 0;
          ur.on('data', (c: Buffer) => {
            if (sent >= fault.bytes) return;
            const take = c.subarray(0, fault.bytes - sent);
            sent += take.length;
            res.write(take);
          });
          return;
        }
        if (fault.kind === 'cut') {
          let sent = 0;
          ur.on('data', (c: Buffer) => {
            if (sent >= fault.bytes) return;
            const take = c.subarray(0, fault.bytes - sent);
            sent += take.length;
            res.write(take);
            if (sent >= fault.bytes) {
              ur.destroy();
              res.socket?.destroy();
            }
          });
          ur.on('end', () => res.end());
          return;
        }
        ur.pipe(res);
      },
    );
    up.on('error', () => res.socket?.destroy());
    req.pipe(up);
  };
  const server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  Object.assign(proxy, {
    host: `127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
  return proxy;
}
