/**
 * A tiny scripted HTTP server for unit tests of the client's wire handling only (what the
 * client sends, how it reads answers). It is not an API server: behaviour tests run against
 * the real `h8s server` (see `test-server.ts`).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

export type WireHandler = (req: RecordedRequest, res: http.ServerResponse) => void | Promise<void>;

export interface WireFake {
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** Replaces the handler. */
  handle(fn: WireHandler): void;
  /** Open responses (watch streams) the test can write to. */
  readonly openResponses: Set<http.ServerResponse>;
  close(): Promise<void>;
}

/** Writes `body` as JSON with `status`. */
export function sendJson(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** A Status body as the apiserver sends it. */
export function statusBody(
  code: number,
  reason: string,
  message: string,
  details?: Record<string, unknown>,
): unknown {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(details ? { details } : {}),
    code,
  };
}

export async function startWireFake(): Promise<WireFake> {
  const requests: RecordedRequest[] = [];
  const openResponses = new Set<http.ServerResponse>();
  let handler: WireHandler = (_req, res) => sendJson(res, 404, statusBody(404, 'NotFound', 'no handler'));
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const rec: RecordedRequest = {
        method: req.method ?? '',
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(rec);
      openResponses.add(res);
      res.on('close', () => openResponses.delete(res));
      Promise.resolve(handler(rec, res)).catch((err: unknown) => {
        if (!res.headersSent) sendJson(res, 500, statusBody(500, 'InternalError', String(err)));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    openResponses,
    handle: (fn) => {
      handler = fn;
    },
    close: async () => {
      for (const r of openResponses) r.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
