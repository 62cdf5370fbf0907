/**
 * The HTTP layer under the registry client: one request over node:http/https with a timeout,
 * an abort signal and bounded body reads. Redirects are left to the caller, which must decide
 * whether credentials may follow them.
 */
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { tooLarge, unavailable } from '../lib/index.js';

export interface HttpRequest {
  readonly method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  readonly url: URL;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Buffer;
  readonly signal?: AbortSignal | undefined;
  /** Idle socket timeout (no bytes either way). Default 30 s. */
  readonly idleTimeoutMs?: number;
  /** Skip TLS certificate checks (insecure registries only). */
  readonly insecureTls?: boolean;
  /** Extra CA certificates (PEM) for this registry. */
  readonly ca?: string;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly url: URL;
  readonly body: IncomingMessage;
}

/** Header value as one string (first of repeated headers). */
export function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Sends one request and resolves when the response headers arrive; the caller must consume
 * or destroy `body`.
 * @throws ServiceUnavailable when the host cannot be reached or the connection fails.
 */
export function httpRequest(req: HttpRequest): Promise<HttpResponse> {
  const isHttps = req.url.protocol === 'https:';
  const mod = isHttps ? https : http;
  return new Promise<HttpResponse>((resolve, reject) => {
    req.signal?.throwIfAborted();
    const headers: Record<string, string> = { 'user-agent': 'h8s/0.1', ...(req.headers ?? {}) };
    if (req.body) headers['content-length'] = String(req.body.length);
    const r = mod.request(
      req.url,
      {
        method: req.method,
        headers,
        ...(isHttps ? { rejectUnauthorized: !req.insecureTls, ...(req.ca ? { ca: req.ca } : {}) } : {}),
        ...(req.signal ? { signal: req.signal } : {}),
      },
      (res) => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, url: req.url, body: res });
      },
    );
    r.setTimeout(req.idleTimeoutMs ?? 30_000, () => {
      r.destroy(unavailable(`No answer from "${req.url.host}" within ${req.idleTimeoutMs ?? 30_000} ms`));
    });
    r.on('error', (err) => {
      if (req.signal?.aborted) reject(req.signal.reason);
      else if (err instanceof Error && 'code' in err && err.code !== undefined) {
        reject(unavailable(`Cannot reach "${req.url.host}": ${err.message}`, { cause: err }));
      } else reject(err);
    });
    r.end(req.body);
  });
}

/**
 * Reads a whole (small) body, refusing more than `maxBytes`.
 * @throws RequestEntityTooLarge naming `what` when the body is larger.
 */
export async function readBodyLimited(
  body: Readable,
  maxBytes: number,
  what: string,
  declaredLength?: string,
): Promise<Buffer> {
  if (declaredLength !== undefined && Number(declaredLength) > maxBytes) {
    body.destroy();
    throw tooLarge(`The ${what} is ${declaredLength} bytes, larger than the limit of ${maxBytes} bytes`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of body) {
    const b = c as Buffer;
    size += b.length;
    if (size > maxBytes) {
      body.destroy();
      throw tooLarge(`The ${what} is larger than the limit of ${maxBytes} bytes`);
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks, size);
}

/** Discards a body so the connection can be reused. */
export function discardBody(body: Readable): void {
  body.resume();
  body.on('error', () => {});
}
