/**
 * The API server: the handler chain (request log and error recovery → authentication →
 * non-resource paths → discovery → resource endpoints) on an HTTPS server (HTTP/1.1, which
 * exec/attach upgrades need), over an `ApiRegistry` built from the kind definitions.
 *
 * Nothing a request does can crash the process: every error becomes a Status (InternalError
 * hides its details on the wire and logs them once with the request id).
 */
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { setMaxListeners } from 'node:events';
import type { KindDefinition } from '../../api/index.js';
import {
  describeError,
  metricsContentType,
  MetricsRegistry,
  notFound,
  tooManyRequests,
  type Clock,
  type Counter,
  type Histogram,
  type Logger,
} from '../../lib/index.js';
import type { KeyValueStore } from '../../storage/index.js';
import { Discovery } from '../endpoints/discovery.js';
import { OpenApiHandler } from '../endpoints/openapi-handler.js';
import type { RequestContext } from '../endpoints/request-context.js';
import type { UserInfo } from '../filters/user-info.js';
import { resolveRequestInfo } from '../endpoints/request-info.js';
import { ResourceHandler } from '../endpoints/resource-handler.js';
import { writeJson, writeText } from '../endpoints/responses.js';
import { statusForError } from '../endpoints/status.js';
import { defaultMaxRequestBodyBytes } from '../endpoints/request-body.js';
import { isPublicPath, unauthorizedError, type Authenticator } from '../filters/authentication.js';
import { AdmissionChain } from '../admission/admission-chain.js';
import { NamespaceLifecycle } from '../admission/namespace-lifecycle.js';
import { Priority } from '../admission/priority.js';
import { ServiceAllocationPlugin } from '../admission/service-allocation-plugin.js';
import { ServiceAllocation } from '../registry/service-allocation.js';
import {
  defaultNodePortRange,
  defaultServiceCidr,
  parsePortRange,
  parseServiceCidr,
} from '../registry/service-ranges.js';
import { ApiRegistry } from '../registry/api-registry.js';
import { WritePool } from './write-pool.js';
import { ServiceAccountApi, type ServiceAccountConfig } from '../serviceaccount/service-account-api.js';
import { NodeCredentialsHandler, type NodeCredentialsConfig } from './node-credentials-handler.js';
import { PodStreamProxy, routeUpgradeRequests } from './pod-stream-proxy.js';
import type { KubeletClientCredentials } from './streaming-credentials.js';

export interface VersionInfo {
  readonly major: string;
  readonly minor: string;
  readonly gitVersion: string;
  readonly gitCommit: string;
  readonly gitTreeState: string;
  readonly buildDate: string;
  readonly goVersion: string;
  readonly compiler: string;
  readonly platform: string;
}

export interface ApiServerConfig {
  readonly bindAddress: string;
  /** 0 picks a free port (tests). */
  readonly port: number;
  /**
   * PEM key and certificate chain; without them the server speaks plain HTTP (tests only).
   * With `clientCaPem` the server asks for client certificates and verifies them against it
   * (clients without one still connect: bearer tokens keep working).
   */
  readonly tls?: { readonly key: string; readonly cert: string; readonly clientCaPem?: string };
  /** Serves `/cacerts` and `POST /h8s/v1/node-credentials` (joining nodes) when given. */
  readonly nodeCredentials?: NodeCredentialsConfig;
  readonly maxRequestBodyBytes?: number;
  /** How often idle watches that allow bookmarks get one. */
  readonly bookmarkIntervalMs?: number;
  /**
   * Requests (other than watches) served at once; more get 429 with Retry-After, as upstream's
   * `--max-requests-inflight` (default 400).
   */
  readonly maxRequestsInFlight?: number;
  /** Open watches at once; more get 429 (each holds a connection and a store watch). Default 8192. */
  readonly maxWatches?: number;
  /**
   * Write worker threads that decode, validate and encode creates off the event loop
   * (`write-pool.ts`); 0 does that work on the event loop. Default: 1 on a machine with more
   * than one CPU, else 0.
   */
  readonly writeWorkers?: number;
  /** Cluster IPs come from here (`defaultServiceCidr`, 10.43.0.0/16); see `parseServiceCidr`. */
  readonly serviceCidr?: string;
  /** Node ports come from here (`defaultNodePortRange`, 30000-32767); see `parsePortRange`. */
  readonly nodePortRange?: string;
  /** Between repairs of the service allocations (default 3 minutes). */
  readonly serviceRepairIntervalMs?: number;
  readonly version: VersionInfo;
  /** Service-account tokens, TokenRequest/TokenReview and issuer discovery; none without it. */
  readonly serviceAccounts?: ServiceAccountConfig | undefined;
}

export interface ApiServerDeps {
  readonly store: KeyValueStore;
  readonly clock: Clock;
  readonly log: Logger;
  readonly kinds: readonly KindDefinition[];
  readonly authenticator: Authenticator;
  /** Where the server's metrics live (served as Prometheus text on `GET /metrics`); default its own. */
  readonly metrics?: MetricsRegistry;
  /** The client certificate for node agents: with it, pods' log/exec/attach/portforward are proxied. */
  readonly kubeletClient?: KubeletClientCredentials;
}

const mutatingMethods = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * A request's context. Its abort signal is made on first use (only watches and long requests
 * need one), so an ordinary request allocates no controller, closure or listener.
 */
class Context implements RequestContext {
  user: UserInfo | undefined = undefined;
  readonly warnings: string[] = [];
  readonly logFields: Record<string, unknown> = {};
  #abort: AbortController | undefined;
  #onGone: (() => void) | undefined;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly method: string,
    readonly path: string,
    readonly query: URLSearchParams,
    readonly requestId: string,
    private readonly shutdown: AbortSignal,
  ) {}

  get signal(): AbortSignal {
    if (!this.#abort) {
      const abort = new AbortController();
      this.#abort = abort;
      if (this.res.closed || this.shutdown.aborted) abort.abort();
      this.#onGone = () => abort.abort();
      this.res.once('close', this.#onGone);
      this.shutdown.addEventListener('abort', this.#onGone, { once: true });
    }
    return this.#abort.signal;
  }

  /** Removes the listeners the signal added (the request is over). */
  release(): void {
    if (!this.#onGone) return;
    this.shutdown.removeEventListener('abort', this.#onGone);
    this.res.off('close', this.#onGone);
    this.#onGone = undefined;
  }
}
const longRunningSubresources = new Set(['log', 'exec', 'attach', 'portforward', 'proxy']);

export class ApiServer {
  readonly registry: ApiRegistry;
  /** Cluster IPs and node ports of Services. */
  readonly serviceAllocation: ServiceAllocation;
  readonly #deps: ApiServerDeps;
  readonly #config: ApiServerConfig;
  readonly #log: Logger;
  readonly #discovery: Discovery;
  readonly #resources: ResourceHandler;
  readonly #openApi: OpenApiHandler;
  readonly #writePool: WritePool | undefined;
  readonly #nodeCredentials: NodeCredentialsHandler | undefined;
  readonly #podStreams: PodStreamProxy | undefined;
  readonly #server: Server;
  readonly #shutdown = new AbortController();
  /** Loops that run until shutdown (they never reject). */
  readonly #background: Promise<void>[] = [];
  readonly #idPrefix = randomBytes(4).toString('hex');
  #requestSeq = 0;
  readonly #namespaceLifecycle: NamespaceLifecycle;
  readonly #serviceAccounts: ServiceAccountApi | undefined;
  #isReady = false;
  #inFlight = 0;
  #watches = 0;
  readonly #metrics: MetricsRegistry;
  readonly #requestsTotal: Counter;
  readonly #requestSeconds: Histogram;

  constructor(deps: ApiServerDeps, config: ApiServerConfig) {
    this.#deps = deps;
    this.#config = config;
    this.#log = deps.log;
    // Upstream's names, so dashboards made for kube-apiserver read these.
    this.#metrics = deps.metrics ?? new MetricsRegistry();
    this.#requestsTotal = this.#metrics.counter(
      'apiserver_request_total',
      'Counter of apiserver requests broken out for each verb, resource and HTTP response code.',
    );
    this.#requestSeconds = this.#metrics.histogram(
      'apiserver_request_duration_seconds',
      'Response latency distribution in seconds for each verb and resource (watches excluded).',
    );
    this.#metrics
      .gauge(
        'apiserver_current_inflight_requests',
        'Requests being served now, by kind (long-running watches apart).',
      )
      .collectWith(() => [
        { labels: { request_kind: 'requests' }, value: this.#inFlight },
        { labels: { request_kind: 'watches' }, value: this.#watches },
      ]);
    // Every open watch listens for shutdown (thousands may): no MaxListenersExceededWarning.
    setMaxListeners(0, this.#shutdown.signal);
    // Admission plugins in upstream's order; the next issues add service accounts, node
    // restriction, tenancy, limit ranges and quotas here.
    this.#namespaceLifecycle = new NamespaceLifecycle({
      store: deps.store,
      clock: deps.clock,
      log: deps.log,
    });
    this.serviceAllocation = new ServiceAllocation(
      { store: deps.store, clock: deps.clock, log: deps.log },
      {
        serviceCidr: parseServiceCidr(config.serviceCidr ?? defaultServiceCidr),
        nodePortRange: parsePortRange(config.nodePortRange ?? defaultNodePortRange),
        ...(config.serviceRepairIntervalMs !== undefined
          ? { repairIntervalMs: config.serviceRepairIntervalMs }
          : {}),
      },
    );
    this.#serviceAccounts = config.serviceAccounts
      ? new ServiceAccountApi(config.serviceAccounts, deps)
      : undefined;
    const serviceAccountAdmission = this.#serviceAccounts?.admission;
    this.registry = new ApiRegistry({
      store: deps.store,
      clock: deps.clock,
      log: deps.log,
      kinds: deps.kinds,
      admission: new AdmissionChain({
        mutating: [
          this.#namespaceLifecycle,
          ...(serviceAccountAdmission ? [serviceAccountAdmission] : []),
          new Priority({ store: deps.store, clock: deps.clock }),
          new ServiceAllocationPlugin(this.serviceAllocation),
        ],
      }),
    });
    this.#discovery = new Discovery(
      this.registry,
      this.#serviceAccounts ? ServiceAccountApi.discoveryResources : [],
    );
    const writeWorkers = config.writeWorkers ?? (availableParallelism() > 1 ? 1 : 0);
    this.#writePool = writeWorkers > 0 ? new WritePool({ size: writeWorkers, log: deps.log }) : undefined;
    this.#resources = new ResourceHandler({
      registry: this.registry,
      clock: deps.clock,
      maxBodyBytes: config.maxRequestBodyBytes ?? defaultMaxRequestBodyBytes,
      bookmarkIntervalMs: config.bookmarkIntervalMs ?? 60_000,
      ...(this.#writePool ? { createPreparer: this.#writePool } : {}),
    });
    this.#openApi = new OpenApiHandler(deps.kinds, config.version.gitVersion);
    this.#nodeCredentials = config.nodeCredentials
      ? new NodeCredentialsHandler(
          { registry: this.registry, clock: deps.clock, log: deps.log },
          config.nodeCredentials,
        )
      : undefined;
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      void this.handle(req, res);
    };
    this.#server = config.tls
      ? createHttpsServer(
          {
            key: config.tls.key,
            cert: config.tls.cert,
            ALPNProtocols: ['http/1.1'],
            ...(config.tls.clientCaPem !== undefined
              ? { ca: config.tls.clientCaPem, requestCert: true, rejectUnauthorized: false }
              : {}),
          },
          handler,
        )
      : createHttpServer(handler);
    this.#server.keepAliveTimeout = 65_000;
    this.#server.headersTimeout = 66_000;
    // Receiving a request (headers and body) must finish within a minute, so slow senders cannot
    // hold sockets and buffers; responses (watches) may last as long as they need.
    this.#server.requestTimeout = 60_000;
    // Streaming (pods/log, exec, attach, portforward): upgrades go through `handle` too.
    this.#podStreams = deps.kubeletClient
      ? new PodStreamProxy({ registry: this.registry, kubeletClient: deps.kubeletClient, log: deps.log })
      : undefined;
    routeUpgradeRequests(this.#server, handler);
    this.#server.on('clientError', (err, socket) => {
      this.#log.debug('Rejected a malformed HTTP request', { error: describeError(err) });
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      else socket.destroy();
    });
  }

  /** The write workers (tests). */
  get writePool(): WritePool | undefined {
    return this.#writePool;
  }

  /**
   * Creates the bootstrap namespaces and waits for the write workers to load (they load
   * meanwhile; creates before that would run inline), then starts listening. Returns the port.
   */
  async start(): Promise<number> {
    await this.registry.ensureBootstrapNamespaces();
    // Before any request: the bitmaps may be missing (first start) or behind (a crash).
    await this.serviceAllocation.repair();
    await this.#writePool?.ready();
    this.#background.push(this.#namespaceLifecycle.run(this.#shutdown.signal));
    this.#background.push(this.serviceAllocation.run(this.#shutdown.signal));
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.#server.once('error', onError);
      this.#server.listen(this.#config.port, this.#config.bindAddress, () => {
        this.#server.off('error', onError);
        resolve();
      });
    });
    this.#isReady = true;
    const port = (this.#server.address() as AddressInfo).port;
    this.#log.info('API server listening', {
      address: this.#config.bindAddress,
      port,
      tls: this.#config.tls !== undefined,
    });
    return port;
  }

  get port(): number {
    const a = this.#server.address();
    return a && typeof a === 'object' ? a.port : 0;
  }

  /** Stops accepting requests, ends open watches and closes connections. */
  async stop(): Promise<void> {
    this.#isReady = false;
    this.#shutdown.abort();
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeIdleConnections();
      setImmediate(() => this.#server.closeAllConnections());
    });
    await this.#writePool?.stop();
    await Promise.all(this.#background);
  }

  /** Serves until `signal` aborts, then stops. */
  async run(signal: AbortSignal): Promise<void> {
    if (!this.#server.listening) await this.start();
    if (!signal.aborted)
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    await this.stop();
  }

  /** The request handler (exposed for in-process tests). */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const startedMs = performance.now();
    const method = req.method ?? 'GET';
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const path = q >= 0 ? rawUrl.slice(0, q) : rawUrl;
    const query = new URLSearchParams(q >= 0 ? rawUrl.slice(q + 1) : '');
    const ctx = new Context(
      req,
      res,
      method,
      path,
      query,
      `${this.#idPrefix}-${(++this.#requestSeq).toString(36)}`,
      this.#shutdown.signal,
    );
    let error: unknown;
    try {
      await this.#dispatch(ctx);
    } catch (err) {
      error = err;
      try {
        this.#writeError(ctx, err);
      } catch (writeErr) {
        // The response cannot even carry a Status (socket gone, headers half sent): drop it.
        ctx.logFields['writeError'] = describeError(writeErr);
        res.destroy();
      }
    } finally {
      ctx.release();
      this.#logRequest(ctx, startedMs, error);
    }
  }

  #writeError(ctx: RequestContext, err: unknown): void {
    const { code, body, isInternal } = statusForError(err, ctx.requestId);
    if (isInternal) ctx.logFields['error'] = describeError(err);
    else ctx.logFields['reason'] = body.reason;
    const res = ctx.res;
    if (res.headersSent) {
      res.destroy();
      return;
    }
    // A body we did not read (e.g. 413) ends the connection, but its reading side only once the
    // client has sent the body (or after a bound): Node destroys a `Connection: close` socket as
    // soon as the answer is written, which resets a client still writing, so it sees EPIPE
    // instead of our Status (Go's client copes; Node's and Python's do not).
    if (!ctx.req.complete) {
      res.setHeader('Connection', 'close');
      drainThenClose(ctx.req);
    }
    const retry = (body.details as { retryAfterSeconds?: number } | undefined)?.retryAfterSeconds;
    if (retry !== undefined) res.setHeader('Retry-After', String(retry));
    writeJson(res, code, body);
  }

  #logRequest(ctx: RequestContext, startedMs: number, error: unknown): void {
    const code = ctx.res.statusCode;
    const verb = typeof ctx.logFields['verb'] === 'string' ? ctx.logFields['verb'] : ctx.method.toLowerCase();
    // Only kinds the server serves name a resource: a path of the client's own never becomes a label.
    const resource = typeof ctx.logFields['resource'] === 'string' ? ctx.logFields['resource'] : '';
    this.#requestsTotal.inc({ verb, resource, code: String(code) });
    if (verb !== 'watch')
      this.#requestSeconds.observe({ verb, resource }, (performance.now() - startedMs) / 1000);
    const fields = {
      requestId: ctx.requestId,
      method: ctx.method,
      path: ctx.path.length > 512 ? ctx.path.slice(0, 512) + '…' : ctx.path,
      code,
      durationMs: Math.round((performance.now() - startedMs) * 10) / 10,
      user: ctx.user?.name ?? 'system:anonymous',
      ...ctx.logFields,
    };
    if (code >= 500) {
      this.#log.error('Request failed', {
        ...fields,
        ...(error !== undefined && !('error' in fields) ? { error: describeError(error) } : {}),
      });
    } else if (code >= 400 || mutatingMethods.has(ctx.method)) {
      this.#log.info('Request', fields);
    } else {
      this.#log.debug('Request', fields);
    }
  }

  async #dispatch(ctx: RequestContext): Promise<void> {
    const { path, res } = ctx;
    const user =
      this.#deps.authenticator.authenticate(ctx.req) ?? (await this.#serviceAccounts?.authenticate(ctx.req));
    ctx.user = user;
    // Joining nodes authenticate with bootstrap tokens, which the handler checks itself.
    if (this.#nodeCredentials?.serves(path)) return this.#nodeCredentials.handle(ctx);
    if (!user && !isPublicPath(path)) throw unauthorizedError();
    if (this.#serviceAccounts && ServiceAccountApi.isDiscoveryPath(path)) {
      return this.#serviceAccounts.handleDiscovery(ctx);
    }

    if (path === '/version' || path === '/version/') {
      return writeJson(res, 200, this.#config.version);
    }
    if (/^\/(healthz|livez|readyz)(\/.*)?$/.test(path)) return this.#health(ctx);
    if (path === '/metrics') {
      if (ctx.method !== 'GET') throw notFound('the server could not find the requested resource');
      ctx.res.writeHead(200, { 'Content-Type': metricsContentType });
      ctx.res.end(this.#metrics.render());
      return;
    }
    if (this.#openApi.handle(ctx)) return;

    const info = resolveRequestInfo(ctx.method, path, ctx.query);
    switch (info.type) {
      case 'discovery':
        if (ctx.method !== 'GET' && ctx.method !== 'HEAD')
          throw notFound('the server could not find the requested resource');
        return this.#discovery.handle(ctx, info);
      case 'resource': {
        ctx.logFields['verb'] = info.verb;
        if (this.#serviceAccounts?.handles(info)) return await this.#serviceAccounts.handle(ctx, info);
        // Long-running requests (upstream's longRunningRequestCheck) have their own limit.
        if (info.verb === 'watch' || longRunningSubresources.has(info.subresource ?? '')) {
          if (this.#watches >= (this.#config.maxWatches ?? 8192)) {
            throw tooManyRequests('Too many open watches, please try again later.', {
              details: { retryAfterSeconds: 5 },
            });
          }
          this.#watches++;
          try {
            if (this.#podStreams?.handles(info)) return await this.#podStreams.handle(ctx, info);
            return await this.#resources.handle(ctx, info);
          } finally {
            this.#watches--;
          }
        }
        if (this.#inFlight >= (this.#config.maxRequestsInFlight ?? 400)) {
          throw tooManyRequests('Too many requests, please try again later.', {
            details: { retryAfterSeconds: 1 },
          });
        }
        this.#inFlight++;
        try {
          return await this.#resources.handle(ctx, info);
        } finally {
          this.#inFlight--;
        }
      }
      case 'nonResource':
        if (path === '/' || path === '') {
          return writeJson(res, 200, {
            paths: [
              '/api',
              '/api/v1',
              '/apis',
              '/healthz',
              '/livez',
              '/openapi/v2',
              '/openapi/v3',
              '/readyz',
              '/version',
            ],
          });
        }
        throw notFound('the server could not find the requested resource');
    }
  }

  async #health(ctx: RequestContext): Promise<void> {
    const kind = ctx.path.split('/')[1] as 'healthz' | 'livez' | 'readyz';
    const checks: [string, boolean][] = [['ping', true]];
    if (kind !== 'livez') {
      let storeOk = true;
      try {
        await this.#deps.store.currentRevision();
      } catch {
        storeOk = false;
      }
      checks.push(['etcd', storeOk]);
      checks.push(['poststarthook/bootstrap-namespaces', this.#isReady || kind === 'healthz']);
    }
    const sub = ctx.path.split('/')[2];
    if (sub !== undefined && sub !== '') {
      const check = checks.find(([n]) => n === ctx.path.split('/').slice(2).join('/'));
      if (!check) throw notFound('the server could not find the requested resource');
      return writeText(
        ctx.res,
        check[1] ? 200 : 500,
        check[1] ? 'ok' : `[-]${check[0]} failed: reason withheld`,
      );
    }
    const ok = checks.every(([, v]) => v);
    if (ctx.query.has('verbose') || !ok) {
      const lines = checks.map(([n, v]) => (v ? `[+]${n} ok` : `[-]${n} failed: reason withheld`));
      lines.push(ok ? `${kind} check passed` : `${kind} check failed`);
      return writeText(ctx.res, ok ? 200 : 500, lines.join('\n') + '\n');
    }
    return writeText(ctx.res, 200, 'ok');
  }
}

/** Bounds on reading and discarding a refused request's body before its connection closes. */
const drainMaxBytes = 16 * 1024 * 1024;
const drainMaxMs = 10_000;

/**
 * Reads and discards the rest of a request answered with `Connection: close` (up to 16 MiB or
 * 10 s) before the socket goes: Node's close after the answer only ends the writing side here
 * (the client sees the answer, then the end), and the socket is destroyed once the client has
 * sent its body, or past the bounds.
 */
function drainThenClose(req: IncomingMessage): void {
  const socket = req.socket as IncomingMessage['socket'] & { destroySoon?: () => void };
  socket.destroySoon = () => socket.end();
  let drained = 0;
  const close = (): void => {
    clearTimeout(timer);
    socket.destroy();
  };
  const timer = setTimeout(close, drainMaxMs);
  timer.unref();
  req.on('data', (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > drainMaxBytes) close();
  });
  req.on('end', close);
  req.on('error', close);
  req.resume();
}
