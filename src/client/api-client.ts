/**
 * The typed REST client: generic access to any resource by (group, version, plural,
 * namespaced), discovery, and raw requests. Every component that talks to the API server uses it.
 */
import type { KubeObject } from '../api/index.js';
import {
  badRequest,
  createRateLimitedLogger,
  internal,
  isNotFound,
  isRecord,
  nullLogger,
  type Clock,
  type Logger,
} from '../lib/index.js';
import { createDiscoveryClient, type DiscoveryClient } from './discovery-client.js';
import { HttpTransport, type HttpMethod, type HttpResponse, type QueryValue } from './http-transport.js';
import { apiVersionOf, resourcePath, type ResourceRef } from './resource-ref.js';
import { isStatusObject } from './status-error.js';
import { ListReplySchema, parseObjectReply, parseReply } from './reply-schemas.js';
import { readWatchStream } from './watch-stream.js';
import type {
  CallOptions,
  DeleteCollectionOptions,
  DeleteOptions,
  GetOptions,
  ListOptions,
  ObjectList,
  PatchOptions,
  PatchType,
  StatusObject,
  WatchEvent,
  WatchOptions,
  WriteOptions,
} from './wire-types.js';

export interface ApiClientOptions {
  /** `https://127.0.0.1:6443`. */
  readonly server: string;
  /** Bearer token; never logged. */
  readonly token?: string | undefined;
  /** PEM of the CA that signed the server's certificate. */
  readonly caPem?: string | undefined;
  /** Skip server certificate verification (tests and debugging only). */
  readonly insecure?: boolean | undefined;
  readonly clientCertPem?: string | undefined;
  readonly clientKeyPem?: string | undefined;
  readonly tlsServerName?: string | undefined;
  readonly log?: Logger | undefined;
  /** Default `h8s/<version>`. */
  readonly userAgent?: string | undefined;
  /** Deadline per request (watches: until the headers arrive). Default 30 s. */
  readonly timeoutMs?: number | undefined;
  /** Largest response body read into memory. Default 512 MiB. */
  readonly maxResponseBytes?: number | undefined;
  readonly clock?: Clock | undefined;
  /** Receives server warnings (`Warning` headers); default: logged at warn, rate-limited. */
  readonly onWarning?: ((warning: string) => void) | undefined;
  /** Discovery cache lifetime; default 60 s. */
  readonly discoveryTtlMs?: number | undefined;
}

export interface RawRequest extends CallOptions {
  readonly method: HttpMethod;
  readonly path: string;
  readonly query?: Readonly<Record<string, QueryValue>>;
  readonly body?: unknown;
  readonly contentType?: string;
  readonly accept?: string;
}

/** Access to one resource, in one namespace (or across all, or cluster-scoped). */
export interface ResourceClient<T extends KubeObject = KubeObject> {
  readonly resource: ResourceRef;
  /** The namespace this client works in; undefined = all namespaces / cluster-scoped. */
  readonly namespace: string | undefined;
  /** @throws NotFound when the object does not exist. */
  get(name: string, options?: GetOptions): Promise<T>;
  /** As `get`, but undefined instead of NotFound. */
  find(name: string, options?: GetOptions): Promise<T | undefined>;
  /** One page (all items unless `limit` is set). */
  list(options?: ListOptions): Promise<ObjectList<T>>;
  /** Every item, following `continue` tokens page by page (pages of `limit`, default 500). */
  listAll(options?: Omit<ListOptions, 'continue'>): Promise<ObjectList<T>>;
  /** @throws AlreadyExists, Invalid, ... */
  create(obj: T, options?: WriteOptions): Promise<T>;
  /** PUT of the whole object; the object's `metadata.resourceVersion` is the precondition. @throws Conflict when stale. */
  update(obj: T, options?: WriteOptions): Promise<T>;
  /** PUT of the status subresource. */
  updateStatus(obj: T, options?: WriteOptions): Promise<T>;
  patch(name: string, patch: unknown, options: PatchOptions): Promise<T>;
  /**
   * Deletes `name`. Resolves with the object when the server kept it (finalizers or graceful
   * deletion pending; `metadata.deletionTimestamp` is set) and undefined when it is gone.
   */
  delete(name: string, options?: DeleteOptions): Promise<T | undefined>;
  /** Deletes every object matching the selectors. */
  deleteCollection(options?: DeleteCollectionOptions): Promise<void>;
  /**
   * Streams changes. Ends when the server ends the stream; throws the H8sError of an ERROR
   * event (Expired when `resourceVersion` has been compacted) and the signal's reason on abort.
   */
  watch(options?: WatchOptions): AsyncIterable<WatchEvent<T>>;
  /** GET of a subresource (`status`, `scale`, ...). */
  getSubresource<R = unknown>(name: string, subresource: string, options?: GetOptions): Promise<R>;
  /** PUT of a subresource (`status`, `scale`, `finalize`, ...). */
  updateSubresource<R = unknown>(
    name: string,
    subresource: string,
    body: unknown,
    options?: WriteOptions,
  ): Promise<R>;
  /** POST to a subresource (`binding`, `eviction`, ...). */
  createSubresource<R = unknown>(
    name: string,
    subresource: string,
    body: unknown,
    options?: WriteOptions,
  ): Promise<R>;
}

export interface ApiClient {
  /** The server URL (origin only). */
  readonly server: string;
  /**
   * A client for `resource`; give `namespace` for namespaced resources (create, get, update,
   * delete need it unless the object names its namespace), omit it to list or watch all.
   */
  resource<T extends KubeObject = KubeObject>(resource: ResourceRef, namespace?: string): ResourceClient<T>;
  readonly discovery: DiscoveryClient;
  /** Any request; JSON in and out. @throws the H8sError of a non-2xx answer. */
  request<R = unknown>(req: RawRequest): Promise<R>;
  /** As `request`, with status and headers. */
  requestRaw(req: RawRequest): Promise<HttpResponse>;
  /**
   * Switches to a new client certificate (a renewed credential) for new connections; open
   * watches finish on their old ones.
   */
  setClientCertificate(certPem: string, keyPem: string): void;
  /** Frees pooled sockets. */
  close(): void;
}

const patchContentTypes: Readonly<Record<PatchType, string>> = {
  json: 'application/json-patch+json',
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
};

function writeQuery(o: WriteOptions | undefined): Record<string, QueryValue> {
  return {
    dryRun: o?.dryRun ? 'All' : undefined,
    fieldManager: o?.fieldManager,
    fieldValidation: o?.fieldValidation,
  };
}

function deleteBody(o: DeleteOptions | undefined): Record<string, unknown> {
  const body: Record<string, unknown> = { kind: 'DeleteOptions', apiVersion: 'v1' };
  if (o?.propagationPolicy !== undefined) body['propagationPolicy'] = o.propagationPolicy;
  if (o?.gracePeriodSeconds !== undefined) body['gracePeriodSeconds'] = o.gracePeriodSeconds;
  if (o?.preconditions !== undefined) body['preconditions'] = { ...o.preconditions };
  if (o?.dryRun) body['dryRun'] = ['All'];
  return body;
}

class ResourceClientImpl<T extends KubeObject> implements ResourceClient<T> {
  readonly resource: ResourceRef;
  readonly namespace: string | undefined;
  readonly #transport: HttpTransport;
  readonly #clock: Clock | undefined;

  constructor(
    transport: HttpTransport,
    resource: ResourceRef,
    namespace: string | undefined,
    clock: Clock | undefined,
  ) {
    if (!resource.namespaced && namespace !== undefined) {
      throw badRequest(
        `Resource "${resource.plural}" is cluster-scoped; it takes no namespace (got "${namespace}")`,
      );
    }
    this.#transport = transport;
    this.resource = resource;
    this.namespace = namespace;
    this.#clock = clock;
  }

  get #apiVersion(): string {
    return apiVersionOf(this.resource);
  }

  /** The namespace for a single-object call: the client's, else the object's. */
  #namespaceFor(obj: KubeObject | undefined, verb: string): string | undefined {
    if (!this.resource.namespaced) return undefined;
    const fromObj = obj?.metadata?.namespace;
    if (this.namespace !== undefined && fromObj !== undefined && fromObj !== this.namespace) {
      throw badRequest(
        `Cannot ${verb} ${this.resource.plural}: the object's namespace "${fromObj}" does not match the client's "${this.namespace}"`,
      );
    }
    const ns = this.namespace ?? fromObj;
    if (ns === undefined) throw badRequest(`Cannot ${verb} ${this.resource.plural}: a namespace is required`);
    return ns;
  }

  #objectPath(name: string, verb: string, obj?: KubeObject, subresource?: string): string {
    return resourcePath(this.resource, this.#namespaceFor(obj, verb), name, subresource);
  }

  #collectionPath(): string {
    return resourcePath(this.resource, this.resource.namespaced ? this.namespace : undefined);
  }

  #asObject(body: unknown, what: string): T {
    return parseObjectReply<T>(body, what, { apiVersion: this.#apiVersion, kind: this.resource.kind });
  }

  #nameOf(obj: KubeObject, verb: string): string {
    const name = obj.metadata?.name;
    if (typeof name !== 'string' || name === '') {
      throw badRequest(`Cannot ${verb} ${this.resource.plural}: metadata.name is required`);
    }
    return name;
  }

  async get(name: string, options: GetOptions = {}): Promise<T> {
    const res = await this.#transport.request({
      method: 'GET',
      path: this.#objectPath(name, 'get'),
      query: { resourceVersion: options.resourceVersion },
      signal: options.signal,
      timeoutMs: options.timeoutMs,
    });
    return this.#asObject(res.body, `GET ${this.resource.plural} "${name}"`);
  }

  async find(name: string, options: GetOptions = {}): Promise<T | undefined> {
    try {
      return await this.get(name, options);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async list(options: ListOptions = {}): Promise<ObjectList<T>> {
    const res = await this.#transport.request({
      method: 'GET',
      path: this.#collectionPath(),
      query: {
        labelSelector: options.labelSelector,
        fieldSelector: options.fieldSelector,
        limit: options.limit,
        continue: options.continue,
        resourceVersion: options.resourceVersion,
        resourceVersionMatch: options.resourceVersionMatch,
      },
      signal: options.signal,
      timeoutMs: options.timeoutMs,
    });
    const body = parseReply(ListReplySchema, res.body, `the list of ${this.resource.plural}`);
    const items = body.items.map((item) => this.#asObject(item, `the list of ${this.resource.plural}`));
    const meta = body.metadata;
    return {
      apiVersion: body.apiVersion ?? this.#apiVersion,
      kind: body.kind ?? `${this.resource.kind ?? ''}List`,
      metadata: {
        resourceVersion: meta.resourceVersion ?? '',
        ...(meta.continue !== undefined && meta.continue !== '' ? { continue: meta.continue } : {}),
        ...(meta.remainingItemCount !== undefined ? { remainingItemCount: meta.remainingItemCount } : {}),
      },
      items,
    };
  }

  async listAll(options: Omit<ListOptions, 'continue'> = {}): Promise<ObjectList<T>> {
    const limit = options.limit ?? 500;
    const first = await this.list({ ...options, limit });
    const items = [...first.items];
    let token = first.metadata.continue;
    let pages = 1;
    while (token !== undefined) {
      // Continue tokens carry the revision; a resourceVersion with continue is a 400 upstream.
      const { resourceVersion: _rv, resourceVersionMatch: _m, ...rest } = options;
      const page = await this.list({ ...rest, limit, continue: token });
      items.push(...page.items);
      token = page.metadata.continue;
      if (++pages > 1_000_000) throw internal(`Listing ${this.resource.plural} never ended`);
    }
    return { ...first, metadata: { resourceVersion: first.metadata.resourceVersion }, items };
  }

  async create(obj: T, options: WriteOptions = {}): Promise<T> {
    const path = resourcePath(this.resource, this.#namespaceFor(obj, 'create'));
    const res = await this.#transport.request({
      method: 'POST',
      path,
      query: writeQuery(options),
      body: obj,
      signal: options.signal,
      timeoutMs: options.timeoutMs,
    });
    return this.#asObject(res.body, `the create of ${this.resource.plural}`);
  }

  async update(obj: T, options: WriteOptions = {}): Promise<T> {
    const name = this.#nameOf(obj, 'update');
    const res = await this.#transport.request({
      method: 'PUT',
      path: this.#objectPath(name, 'update', obj),
      query: writeQuery(options),
      body: obj,
      signal: options.signal,
      timeoutMs: options.timeoutMs,
    });
    return this.#asObject(res.body, `the update of ${this.resource.plural} "${name}"`);
  }

  async updateStatus(obj: T, options: WriteOptions = {}): Promise<T> {
    const name = this.#nameOf(obj, 'update the status of');
    const res = await this.#transport.request({
      method: 'PUT',
      path: this.#objectPath(name, 'update the status of', obj, 'status'),
      query: writeQuery(options),
      body: obj,
      signal: options.signal,
      timeoutMs: options.timeoutMs,
    });
    return this.#asObject(res.body, `the status update of ${this.resource.plural} "${name}"`);
  }

  async patch(name: string, patch: unknown, options: PatchOptions): Promise<T> {
    if (options.type === 'apply' && options.fieldManager === undefined) {
      throw badRequest('Server-side apply needs a fieldManager');
    }
    if (options.type === 'json' && !Array.isArray(patch)) {
      throw badRequest('A JSON patch must be an array of operations');
    }
    const res = await this.#transport.request({
      method: 'PATCH',
      path: this.#objectPath(name, 'patch', undefined, options.subresource),
      query: { ...writeQuery(options), force: options.type === 'apply' && options.force ? true : undefined },
      body: patch,
      contentType: patchContentTypes[options.type],
      signal: options.signal,
      timeoutMs: options.timeoutMs,
    });
    return this.#asObject(res.body, `the patch of ${this.resource.plural} "${name}"`);
  }

  async delete(name: string, options: DeleteOptions = {}): Promise<T | undefined> {
    const res = await this.#transport.request({
      method: 'DELETE',
      path: this.#objectPath(name, 'delete'),
      body: deleteBody(options),
      signal: options.signal,
      timeoutMs: options.timeoutMs,
    });
    if (isStatusObject(res.body) || !isRecord(res.body)) return undefined;
    const obj = this.#asObject(res.body, `the delete of ${this.resource.plural} "${name}"`);
    // Some registries (pods) answer with the last state of an object that is already gone.
    const meta = obj.metadata;
    const pending = meta.deletionTimestamp !== undefined || (meta.finalizers?.length ?? 0) > 0;
    return pending ? obj : undefined;
  }

  async deleteCollection(options: DeleteCollectionOptions = {}): Promise<void> {
    await this.#transport.request({
      method: 'DELETE',
      path: this.#collectionPath(),
      query: {
        labelSelector: options.labelSelector,
        fieldSelector: options.fieldSelector,
        limit: options.limit,
        continue: options.continue,
        resourceVersion: options.resourceVersion,
      },
      body: deleteBody(options),
      signal: options.signal,
      timeoutMs: options.timeoutMs,
    });
  }

  watch(options: WatchOptions = {}): AsyncIterable<WatchEvent<T>> {
    const transport = this.#transport;
    const path = this.#collectionPath();
    const apiVersion = this.#apiVersion;
    const kind = this.resource.kind;
    const clock = this.#clock;
    const query: Record<string, QueryValue> = {
      watch: 'true',
      labelSelector: options.labelSelector,
      fieldSelector: options.fieldSelector,
      resourceVersion: options.resourceVersion,
      resourceVersionMatch: options.resourceVersionMatch,
      allowWatchBookmarks: options.allowWatchBookmarks ? 'true' : undefined,
      timeoutSeconds: options.timeoutSeconds,
      sendInitialEvents:
        options.sendInitialEvents === undefined ? undefined : String(options.sendInitialEvents),
    };
    return {
      async *[Symbol.asyncIterator]() {
        const stream = await transport.stream({
          method: 'GET',
          path,
          query,
          signal: options.signal,
          timeoutMs: options.timeoutMs,
        });
        options.onOpen?.();
        // With a server-side timeout the stream must end by then; silence well past it means
        // the connection is dead (a peer that vanished without closing the socket).
        const idleTimeoutMs =
          options.timeoutSeconds !== undefined ? options.timeoutSeconds * 1000 + 30_000 : undefined;
        yield* readWatchStream<T>(stream, {
          signal: options.signal,
          idleTimeoutMs,
          clock,
          apiVersion,
          kind,
          description: `GET ${path}?watch=true`,
        });
      },
    };
  }

  async getSubresource<R>(name: string, subresource: string, options: GetOptions = {}): Promise<R> {
    const res = await this.#transport.request({
      method: 'GET',
      path: this.#objectPath(name, `get ${subresource} of`, undefined, subresource),
      query: { resourceVersion: options.resourceVersion },
      signal: options.signal,
      timeoutMs: options.timeoutMs,
    });
    return res.body as R;
  }

  async updateSubresource<R>(
    name: string,
    subresource: string,
    body: unknown,
    options: WriteOptions = {},
  ): Promise<R> {
    const res = await this.#transport.request({
      method: 'PUT',
      path: this.#objectPath(
        name,
        `update ${subresource} of`,
        isRecord(body) ? (body as KubeObject) : undefined,
        subresource,
      ),
      query: writeQuery(options),
      body,
      signal: options.signal,
      timeoutMs: options.timeoutMs,
    });
    return res.body as R;
  }

  async createSubresource<R>(
    name: string,
    subresource: string,
    body: unknown,
    options: WriteOptions = {},
  ): Promise<R> {
    const res = await this.#transport.request({
      method: 'POST',
      path: this.#objectPath(name, `create ${subresource} of`, undefined, subresource),
      query: writeQuery(options),
      body,
      signal: options.signal,
      timeoutMs: options.timeoutMs,
    });
    return res.body as R;
  }
}

/**
 * A client for the API server at `options.server`.
 * @throws BadRequest when the server URL is malformed.
 */
export function createApiClient(options: ApiClientOptions): ApiClient {
  const log = (options.log ?? nullLogger).child({ component: 'client' });
  const warnLog = createRateLimitedLogger(log, { burst: 5, windowMs: 60_000 });
  const transport = new HttpTransport({
    server: options.server,
    token: options.token,
    caPem: options.caPem,
    insecure: options.insecure,
    clientCertPem: options.clientCertPem,
    clientKeyPem: options.clientKeyPem,
    tlsServerName: options.tlsServerName,
    userAgent: options.userAgent ?? 'h8s',
    timeoutMs: options.timeoutMs ?? 30_000,
    maxResponseBytes: options.maxResponseBytes ?? 512 * 1024 * 1024,
    log,
    clock: options.clock,
    onWarning: options.onWarning ?? ((warning) => warnLog.warn('API server warning', { warning })),
  });
  const discovery = createDiscoveryClient({ transport, clock: options.clock, ttlMs: options.discoveryTtlMs });
  const requestRaw = (req: RawRequest): Promise<HttpResponse> =>
    transport.request({
      method: req.method,
      path: req.path,
      ...(req.query !== undefined ? { query: req.query } : {}),
      ...(req.body !== undefined ? { body: req.body } : {}),
      ...(req.contentType !== undefined ? { contentType: req.contentType } : {}),
      ...(req.accept !== undefined ? { accept: req.accept } : {}),
      signal: req.signal,
      timeoutMs: req.timeoutMs,
    });
  return {
    server: transport.server,
    resource: <T extends KubeObject>(resource: ResourceRef, namespace?: string) =>
      new ResourceClientImpl<T>(transport, resource, namespace, options.clock),
    discovery,
    async request<R>(req: RawRequest): Promise<R> {
      return (await requestRaw(req)).body as R;
    },
    requestRaw,
    setClientCertificate: (certPem, keyPem) => transport.setClientCertificate(certPem, keyPem),
    close: () => transport.close(),
  };
}

/** Whether a delete/other answer is a Success Status. */
export function isSuccessStatus(body: unknown): body is StatusObject {
  return isStatusObject(body) && body['status'] === 'Success';
}
