/**
 * An `ApiServer` in this process on loopback (plain HTTP, a fresh memory:// or sqlite store),
 * with a tiny request helper, for integration tests of the apiserver and of code that needs a
 * real API without starting `h8s server`. Tests get the store too, to compact it or to check
 * what was (not) written.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allKinds, type KindDefinition } from '../../api/index.js';
import { createMemoryLogger, nullLogger, systemClock, type Clock, type Logger } from '../../lib/index.js';
import { openKeyValueStore, type KeyValueStore } from '../../storage/index.js';
import { createTokenAuthenticator, sha256 } from '../filters/authentication.js';
import { ApiServer } from '../server/api-server.js';

export const testToken = 'test-admin-token';

export interface TestResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  /** The body parsed as JSON (undefined when it is not JSON). */
  readonly json: Record<string, unknown> & { items?: Record<string, unknown>[] };
}

export interface RequestOptions {
  readonly body?: unknown;
  /** Sent as is when a string or Buffer; otherwise JSON. */
  readonly contentType?: string;
  readonly accept?: string;
  readonly token?: string | null;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface InProcessServer {
  readonly server: ApiServer;
  readonly store: KeyValueStore;
  readonly baseUrl: string;
  readonly port: number;
  readonly log: Logger;
  request(method: string, path: string, options?: RequestOptions): Promise<TestResponse>;
  /** Opens a watch and collects its events until `stop()`. */
  watch(path: string, options?: { accept?: string }): Promise<WatchHandle>;
  close(): Promise<void>;
}

export interface WatchHandle {
  readonly status: number;
  readonly events: { type: string; object: Record<string, unknown> }[];
  /** Resolves when the server ends the stream. */
  readonly ended: Promise<void>;
  stop(): void;
}

export interface InProcessServerOptions {
  /** `memory` (default) or `sqlite` (a temp file). */
  readonly store?: 'memory' | 'sqlite';
  /** A store URL of its own (an etcd the test started); overrides `store`. */
  readonly storeUrl?: string;
  /** The service CIDR and node port range (the server's defaults without them). */
  readonly serviceCidr?: string;
  readonly nodePortRange?: string;
  /** Extra datastore URL options, e.g. `compactIntervalMs=0`. */
  readonly storeOptions?: string;
  readonly kinds?: readonly KindDefinition[];
  readonly clock?: Clock;
  readonly bookmarkIntervalMs?: number;
  readonly maxRequestBodyBytes?: number;
  readonly maxRequestsInFlight?: number;
  /** Write worker threads (default 0: creates are prepared on the event loop). */
  readonly writeWorkers?: number;
  /** Keep the log lines in memory (returned as `records`). */
  readonly captureLogs?: boolean;
}

export async function startInProcessServer(
  options: InProcessServerOptions = {},
): Promise<InProcessServer & { records: readonly Record<string, unknown>[] }> {
  const memory = options.captureLogs ? createMemoryLogger('debug') : undefined;
  const log = memory?.log ?? nullLogger;
  let dir: string | undefined;
  let url = `memory://${options.storeOptions ? `?${options.storeOptions}` : ''}`;
  if (options.store === 'sqlite') {
    dir = await mkdtemp(join(tmpdir(), 'h8s-apiserver-test-'));
    url = `sqlite://${join(dir, 'state.db')}${options.storeOptions ? `?${options.storeOptions}` : ''}`;
  }
  if (options.storeUrl !== undefined) url = options.storeUrl;
  const clock = options.clock ?? systemClock;
  const store = await openKeyValueStore(url, { log, clock });
  const server = new ApiServer(
    {
      store,
      clock,
      log,
      kinds: options.kinds ?? allKinds(),
      authenticator: createTokenAuthenticator([
        { tokenSha256: sha256(testToken), user: { name: 'admin', groups: ['system:masters'] } },
      ]),
    },
    {
      bindAddress: '127.0.0.1',
      port: 0,
      ...(options.bookmarkIntervalMs !== undefined ? { bookmarkIntervalMs: options.bookmarkIntervalMs } : {}),
      ...(options.maxRequestBodyBytes !== undefined
        ? { maxRequestBodyBytes: options.maxRequestBodyBytes }
        : {}),
      ...(options.maxRequestsInFlight !== undefined
        ? { maxRequestsInFlight: options.maxRequestsInFlight }
        : {}),
      writeWorkers: options.writeWorkers ?? 0,
      ...(options.serviceCidr !== undefined ? { serviceCidr: options.serviceCidr } : {}),
      ...(options.nodePortRange !== undefined ? { nodePortRange: options.nodePortRange } : {}),
      version: {
        major: '1',
        minor: '32',
        gitVersion: 'v1.32.0+h8s.test',
        gitCommit: '',
        gitTreeState: 'clean',
        buildDate: '',
        goVersion: '',
        compiler: '',
        platform: 'linux/amd64',
      },
    },
  );
  const port = await server.start();
  const baseUrl = `http://127.0.0.1:${port}`;

  const request = (method: string, path: string, o: RequestOptions = {}): Promise<TestResponse> =>
    new Promise((resolve, reject) => {
      let payload: Buffer | undefined;
      if (o.body !== undefined) {
        payload =
          typeof o.body === 'string'
            ? Buffer.from(o.body)
            : Buffer.isBuffer(o.body)
              ? o.body
              : Buffer.from(JSON.stringify(o.body));
      }
      const headers: Record<string, string> = { ...(o.headers ?? {}) };
      if (o.token !== null) headers['authorization'] = `Bearer ${o.token ?? testToken}`;
      if (payload) {
        headers['content-type'] = o.contentType ?? 'application/json';
        headers['content-length'] = String(payload.length);
      }
      if (o.accept) headers['accept'] = o.accept;
      const req = httpRequest(`${baseUrl}${path}`, { method, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: Record<string, unknown> = {};
          try {
            json = JSON.parse(text) as Record<string, unknown>;
          } catch {
            // not JSON
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(payload);
    });

  const watch = (path: string, wo: { accept?: string } = {}): Promise<WatchHandle> =>
    new Promise((resolve, reject) => {
      const events: { type: string; object: Record<string, unknown> }[] = [];
      const headers: Record<string, string> = { authorization: `Bearer ${testToken}` };
      if (wo.accept) headers['accept'] = wo.accept;
      let endResolve: () => void = () => {};
      const ended = new Promise<void>((r) => (endResolve = r));
      const req = httpRequest(`${baseUrl}${path}`, { method: 'GET', headers }, (res) => {
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buf += chunk;
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            if (line.trim() !== '')
              events.push(JSON.parse(line) as { type: string; object: Record<string, unknown> });
          }
        });
        res.on('end', () => {
          if (buf.trim() !== '') {
            try {
              events.push(JSON.parse(buf) as { type: string; object: Record<string, unknown> });
            } catch {
              // a non-JSON error body
            }
          }
          endResolve();
        });
        res.on('close', () => endResolve());
        resolve({ status: res.statusCode ?? 0, events, ended, stop: () => req.destroy() });
      });
      req.on('error', (err) => {
        endResolve();
        if ((err as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(err);
      });
      req.end();
    });

  return {
    server,
    store,
    baseUrl,
    port,
    log,
    records: (memory?.records ?? []) as unknown as Record<string, unknown>[],
    request,
    watch,
    async close() {
      await server.stop();
      await store.close();
      if (dir) await rm(dir, { recursive: true, force: true });
    },
  };
}
