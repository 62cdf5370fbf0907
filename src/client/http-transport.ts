/**
 * HTTP(S) to the API server: one keep-alive agent per client, bearer token, CA pinning,
 * request timeouts, bounded response bodies, Status errors turned into H8sError.
 *
 * Invariants: the token never reaches a log or an error message; a non-2xx answer always
 * rejects with an H8sError (through `errorFromResponse`); a failure to reach the server is
 * ServiceUnavailable, a deadline is Timeout, an abort rejects with the signal's reason.
 */
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import {
  abortReason,
  badRequest,
  describeError,
  internal,
  systemClock,
  timeout,
  tooLarge,
  unavailable,
  type Clock,
  type Logger,
} from '../lib/index.js';
import { errorFromResponse } from './status-error.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export type QueryValue = string | number | boolean | readonly string[] | undefined;

export interface HttpRequest {
  readonly method: HttpMethod;
  /** Absolute path, e.g. `/api/v1/namespaces/default/pods`. */
  readonly path: string;
  readonly query?: Readonly<Record<string, QueryValue>>;
  /** Serialised as JSON unless it is a string or Buffer. */
  readonly body?: unknown;
  /** Default `application/json` when there is a body. */
  readonly contentType?: string;
  /** Default `application/json`. */
  readonly accept?: string;
  readonly signal?: AbortSignal | undefined;
  /** Deadline for the whole exchange (for streams: until the headers arrive). */
  readonly timeoutMs?: number | undefined;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  /** Parsed JSON when the server sent JSON, else the text. */
  readonly body: unknown;
}

export interface HttpStream {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Readable;
  /** Whether the whole response (up to the final chunk) has been received. */
  isComplete(): boolean;
  /** Ends the exchange and frees the socket. */
  close(): void;
}

export interface HttpTransportOptions {
  /** `https://host:port` (or `http://` for plain-text test servers). */
  readonly server: string;
  readonly token?: string | undefined;
  readonly caPem?: string | undefined;
  /** Skip server certificate verification (never in production). */
  readonly insecure?: boolean | undefined;
  readonly clientCertPem?: string | undefined;
  readonly clientKeyPem?: string | undefined;
  /** Name to verify the server certificate against, when it differs from the URL's host. */
  readonly tlsServerName?: string | undefined;
  readonly userAgent: string;
  readonly timeoutMs: number;
  readonly maxResponseBytes: number;
  readonly log: Logger;
  readonly clock?: Clock | undefined;
  /** Called with the text of each `Warning: 299 - "..."` response header. */
  readonly onWarning: (warning: string) => void;
}

const retryableSocketErrors = new Set(['ECONNRESET', 'EPIPE']);
const idempotentMethods = new Set<HttpMethod>(['GET', 'PUT', 'DELETE']);

/** Extracts the texts of `Warning` headers (RFC 7234 format, code 299). */
export function parseWarningHeaders(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  const out: string[] = [];
  for (const header of Array.isArray(value) ? value : [value]) {
    const re = /\d{3}\s+\S+\s+"((?:[^"\\]|\\.)*)"/g;
    let m: RegExpExecArray | null;
    while ((m = re.exec(header)) !== null) out.push((m[1] ?? '').replace(/\\(.)/g, '$1'));
  }
  return out;
}

/** `?a=1&b=x&b=y` from a record; undefined values are left out. */
export function buildQuery(query: Readonly<Record<string, QueryValue>> | undefined): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const item of v as readonly string[]) params.append(k, item);
    else params.append(k, String(v));
  }
  const s = params.toString();
  return s ? `?${s}` : '';
}

function isJsonContentType(ct: string | undefined): boolean {
  return ct !== undefined && /^application\/([a-z0-9.+-]*\+)?json\b/i.test(ct.trim());
}

export class HttpTransport {
  readonly #options: HttpTransportOptions;
  readonly #url: URL;
  #agent: http.Agent;
  /** Agents replaced by `setClientCertificate`: their open requests (watches) run on. */
  readonly #retiredAgents: http.Agent[] = [];
  #clientCert: { readonly cert: string; readonly key: string } | undefined;
  readonly #clock: Clock;

  constructor(options: HttpTransportOptions) {
    let url: URL;
    try {
      url = new URL(options.server);
    } catch (err) {
      throw badRequest(`Invalid API server URL ${JSON.stringify(options.server)}`, { cause: err });
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw badRequest(`Invalid API server URL "${options.server}": the scheme must be https or http`);
    }
    if (url.pathname !== '/' && url.pathname !== '') {
      throw badRequest(`Invalid API server URL "${options.server}": path prefixes are not supported`);
    }
    this.#options = options;
    this.#url = url;
    this.#clock = options.clock ?? systemClock;
    if (options.clientCertPem !== undefined && options.clientKeyPem !== undefined) {
      this.#clientCert = { cert: options.clientCertPem, key: options.clientKeyPem };
    }
    this.#agent = this.#newAgent();
  }

  #newAgent(): http.Agent {
    const options = this.#options;
    // Keep-alive: controllers and informers talk to one server all day. Watches hold a socket
    // each for minutes, so the pool is unbounded (HTTP/1.1 has no multiplexing).
    return this.#url.protocol === 'https:'
      ? new https.Agent({
          keepAlive: true,
          maxFreeSockets: 16,
          ...(options.caPem !== undefined ? { ca: options.caPem } : {}),
          ...(this.#clientCert ?? {}),
          ...(options.tlsServerName !== undefined ? { servername: options.tlsServerName } : {}),
          rejectUnauthorized: options.insecure !== true,
        })
      : new http.Agent({ keepAlive: true, maxFreeSockets: 16 });
  }

  /**
   * Uses a new client certificate (a renewed node credential) for every new connection.
   * Requests already running (watches) finish on their old connections; the old pool's idle
   * sockets are closed now.
   */
  setClientCertificate(certPem: string, keyPem: string): void {
    this.#clientCert = { cert: certPem, key: keyPem };
    const old = this.#agent;
    this.#agent = this.#newAgent();
    for (const sockets of Object.values(old.freeSockets)) for (const s of sockets ?? []) s.destroy();
    this.#retiredAgents.push(old);
  }

  /** The server URL without a trailing slash. */
  get server(): string {
    return this.#url.origin;
  }

  /** Closes pooled sockets; in-flight requests finish or fail. */
  close(): void {
    this.#agent.destroy();
    for (const a of this.#retiredAgents.splice(0)) a.destroy();
  }

  /**
   * Sends a request and reads the whole answer.
   * @throws the H8sError of a non-2xx Status; ServiceUnavailable when the server cannot be
   *   reached; Timeout after `timeoutMs`; RequestEntityTooLarge when the answer exceeds the cap.
   */
  async request(req: HttpRequest): Promise<HttpResponse> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#requestOnce(req);
      } catch (err) {
        // A pooled keep-alive socket the server closed meanwhile (e.g. it restarted) fails on
        // first use; Node's advice is to retry such requests once on a fresh socket.
        if (attempt === 0 && err instanceof StaleSocketError && idempotentMethods.has(req.method)) continue;
        throw err instanceof StaleSocketError ? err.error : err;
      }
    }
  }

  /**
   * Sends a request and hands back the body as a stream (watch). Non-2xx answers are read
   * and thrown as for `request`.
   */
  async stream(req: HttpRequest): Promise<HttpStream> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#streamOnce(req);
      } catch (err) {
        if (attempt === 0 && err instanceof StaleSocketError) continue;
        throw err instanceof StaleSocketError ? err.error : err;
      }
    }
  }

  #describe(req: HttpRequest): string {
    return `${req.method} ${req.path}`;
  }

  #start(
    req: HttpRequest,
    onResponse: (res: http.IncomingMessage, clientReq: http.ClientRequest, finish: Finish) => void,
    deadlineMs: number,
  ): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const { signal } = req;
      if (signal?.aborted) {
        reject(abortReason(signal));
        return;
      }
      let settled = false;
      let gotResponse = false;
      const headers: Record<string, string> = {
        Accept: req.accept ?? 'application/json',
        'User-Agent': this.#options.userAgent,
      };
      if (this.#options.token !== undefined) headers['Authorization'] = `Bearer ${this.#options.token}`;
      let payload: Buffer | undefined;
      if (req.body !== undefined) {
        payload =
          typeof req.body === 'string'
            ? Buffer.from(req.body)
            : Buffer.isBuffer(req.body)
              ? req.body
              : Buffer.from(JSON.stringify(req.body));
        headers['Content-Type'] = req.contentType ?? 'application/json';
        headers['Content-Length'] = String(payload.length);
      }
      const mod = this.#url.protocol === 'https:' ? https : http;
      const clientReq = mod.request({
        protocol: this.#url.protocol,
        hostname: this.#url.hostname.replace(/^\[|\]$/g, ''),
        port: this.#url.port || (this.#url.protocol === 'https:' ? 443 : 80),
        method: req.method,
        path: req.path + buildQuery(req.query),
        headers,
        agent: this.#agent,
      });
      const finish: Finish = (err, value) => {
        if (settled) return;
        settled = true;
        timer.cancel();
        signal?.removeEventListener('abort', onAbort);
        if (err !== undefined) reject(err);
        else resolve(value);
      };
      const onAbort = (): void => {
        clientReq.destroy();
        finish(abortReason(signal));
      };
      const timer = this.#clock.setTimeout(() => {
        clientReq.destroy();
        finish(
          timeout(`Request "${this.#describe(req)}" to the API server timed out after ${deadlineMs} ms`),
        );
      }, deadlineMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      clientReq.on('error', (err: NodeJS.ErrnoException) => {
        if (settled) return;
        const error = unavailable(
          `Cannot reach the API server at "${this.#url.origin}" for "${this.#describe(req)}"`,
          { cause: err },
        );
        if (!gotResponse && clientReq.reusedSocket && retryableSocketErrors.has(err.code ?? '')) {
          finish(new StaleSocketError(error));
        } else {
          finish(error);
        }
      });
      clientReq.on('response', (res) => {
        gotResponse = true;
        for (const w of parseWarningHeaders(res.headers['warning'])) this.#options.onWarning(w);
        onResponse(res, clientReq, finish);
      });
      clientReq.end(payload);
    });
  }

  async #requestOnce(req: HttpRequest): Promise<HttpResponse> {
    const started = this.#clock.monotonicMs();
    const deadlineMs = req.timeoutMs ?? this.#options.timeoutMs;
    const cap = this.#options.maxResponseBytes;
    const result = (await this.#start(
      req,
      (res, clientReq, finish) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > cap) {
            clientReq.destroy();
            finish(
              tooLarge(`The API server's answer to "${this.#describe(req)}" is larger than ${cap} bytes`),
            );
            return;
          }
          chunks.push(c);
        });
        res.on('error', (err) =>
          finish(unavailable(`Lost the API server's answer to "${this.#describe(req)}"`, { cause: err })),
        );
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          let body: unknown = text;
          if (text !== '' && isJsonContentType(res.headers['content-type'])) {
            try {
              body = JSON.parse(text) as unknown;
            } catch (err) {
              if (status >= 200 && status < 300) {
                finish(
                  internal(`The API server sent invalid JSON for "${this.#describe(req)}"`, { cause: err }),
                );
                return;
              }
            }
          } else if (text !== '' && status >= 300 && text.trimStart().startsWith('{')) {
            // Error bodies without a Content-Type still often carry a Status.
            try {
              body = JSON.parse(text) as unknown;
            } catch {
              // keep the text
            }
          }
          this.#options.log.debug('API request', {
            method: req.method,
            path: req.path,
            status,
            durationMs: Math.round(this.#clock.monotonicMs() - started),
          });
          if (status < 200 || status >= 300) {
            finish(errorFromResponse(status, body, text));
            return;
          }
          finish(undefined, { status, headers: res.headers, body } satisfies HttpResponse);
        });
      },
      deadlineMs,
    )) as HttpResponse;
    return result;
  }

  async #streamOnce(req: HttpRequest): Promise<HttpStream> {
    const deadlineMs = req.timeoutMs ?? this.#options.timeoutMs;
    const result = (await this.#start(
      req,
      (res, clientReq, finish) => {
        const status = res.statusCode ?? 0;
        if (status < 200 || status >= 300) {
          // Read the (small) error body, then fail.
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size <= 1024 * 1024) chunks.push(c);
          });
          res.on('error', (err) =>
            finish(unavailable(`Lost the API server's answer to "${this.#describe(req)}"`, { cause: err })),
          );
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let body: unknown = text;
            try {
              body = JSON.parse(text) as unknown;
            } catch {
              // not JSON
            }
            finish(errorFromResponse(status, body, text));
          });
          return;
        }
        this.#options.log.debug('API stream opened', { method: req.method, path: req.path, status });
        finish(undefined, {
          status,
          headers: res.headers,
          body: res,
          isComplete: () => res.complete,
          close: () => {
            clientReq.destroy();
            res.destroy();
          },
        } satisfies HttpStream);
      },
      deadlineMs,
    )) as HttpStream;
    return result;
  }
}

type Finish = (err: unknown, value?: unknown) => void;

/** Internal marker: the request failed on a reused socket before any answer; safe to retry. */
class StaleSocketError extends Error {
  readonly error: Error;
  constructor(error: Error) {
    super(describeError(error));
    this.error = error;
  }
}
