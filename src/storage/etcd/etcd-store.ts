/**
 * `etcd://host:port[,host:port...]`: the KeyValueStore on etcd v3, for HA (several API servers
 * over a replicated etcd cluster). The mapping is the upstream apiserver's (storage/etcd3):
 *
 * - revision ⇔ etcd's store revision; a key's modRevision ⇔ `mod_revision`.
 * - create / update / delete are one-round-trip transactions comparing `mod_revision`, whose
 *   failure branch reads the key, so a lost compare-and-swap returns the current state.
 * - watch ⇔ an etcd watch with `prev_kv` from `fromRevision + 1`. Each watch has its own gRPC
 *   stream so that it can resume on another member from the last revision it delivered (the
 *   etcd3 client's own watcher resumes from the response header, which can skip events still
 *   being replayed), reassemble fragmented responses, and ask for progress notifications.
 * - compact ⇔ etcd Compact; the compacted revision is recorded under a reserved key
 *   ("\0h8s/compact_revision", a key no caller can write because keys may not contain NUL),
 *   as the apiserver records `compact_rev_key`, so every server sees it.
 * - reads are linearizable (quorum) reads; reads below the compacted revision answer Expired.
 */
import { Etcd3, type IKeyValue, type IResponseHeader, type IWatchResponse, isRecoverableError } from 'etcd3';
import {
  badRequest,
  type Clock,
  createRateLimitedLogger,
  describeError,
  expired,
  H8sError,
  internal,
  type Logger,
  notFound,
  timeout,
  type TimerHandle,
  tooLarge,
  unavailable,
} from '../../lib/index.js';
import { CompactionScheduler } from '../compaction-scheduler.js';
import type {
  KeyValue,
  KeyValueStore,
  ListOptions,
  ListResult,
  WatchEvent,
  WatchOptions,
  WatchStream,
  WriteResult,
} from '../key-value-store.js';
import {
  compactedError,
  validateKey,
  validatePrefix,
  validateRevision,
  validateStartKey,
  validateValue,
} from '../key-range.js';
import {
  type CommonStoreOptions,
  type ParsedStoreUrl,
  rejectUnknownOptions,
  takeCommonOptions,
  takeIntegerOption,
} from '../store-url.js';
import { WatchQueue } from '../watch-queue.js';

export interface EtcdStoreOptions extends CommonStoreOptions {
  readonly endpoints: readonly string[];
  /** Deadline of every unary call (reads, writes, compaction). */
  readonly requestTimeoutMs: number;
}

/** Reserved key holding the compacted revision; no caller key can start with NUL. */
const compactKey = Buffer.from('\0h8s/compact_revision');
/** Start of the key space callers can use (every valid key is >= "\x01"). */
const firstUserKey = Buffer.from([1]);
/** `range_end` "\0" means "every key >= key" in etcd. */
const toTheEnd = Buffer.from([0]);
const emptyValue = Buffer.alloc(0);

/** Parses the etcd URL options and connects. */
export async function openEtcdStore(
  parsed: ParsedStoreUrl,
  deps: { log: Logger; clock: Clock },
): Promise<KeyValueStore> {
  if (parsed.location.includes('@')) {
    throw badRequest(`Invalid datastore URL "${parsed.display}": etcd authentication is not supported yet`);
  }
  const endpoints = parsed.location
    .replace(/\/+$/, '')
    .split(',')
    .map((e) => e.trim());
  for (const e of endpoints) {
    const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(e);
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) {
      throw badRequest(
        `Invalid datastore URL "${parsed.display}": endpoint "${e}" is not host:port; use etcd://host:2379[,host:2379...]`,
      );
    }
  }
  const common = takeCommonOptions(parsed);
  const options: EtcdStoreOptions = {
    ...common,
    endpoints,
    requestTimeoutMs: takeIntegerOption(parsed, 'requestTimeoutMs', 10_000, { min: 100 }),
  };
  rejectUnknownOptions(parsed, ['requestTimeoutMs']);
  const client = new Etcd3({
    hosts: endpoints.map((e) => `http://${e}`),
    grpcOptions: {
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
      'grpc.max_send_message_length': 64 * 1024 * 1024,
    },
    faultHandling: {
      // No library-level retries: a write retried after an ambiguous failure could be applied
      // twice or report a conflict with itself. EtcdStore retries only what is safe (reads, and
      // writes that never left this process).
      global: noRetryPolicy as never,
      // The library's default breaker takes a host out for 5 s after 3 failures; with one
      // endpoint that turns a blip into an outage. With several, skip a failing member briefly.
      host: () => (endpoints.length > 1 ? new HostBreaker(3, 1000) : noRetryPolicy) as never,
    },
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + options.requestTimeoutMs }),
  });
  const store = new EtcdStore(client, options, deps);
  try {
    await store.currentRevision();
  } catch (err) {
    await store.close();
    throw unavailable(`Cannot connect to etcd at ${endpoints.join(',')}: ${describeError(err)}`, {
      cause: err,
    });
  }
  deps.log.info('Opened store', { endpoints, revision: store.lastKnownRevision });
  return store;
}

export class EtcdStore implements KeyValueStore {
  readonly #client: Etcd3;
  readonly #options: EtcdStoreOptions;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #scheduler: CompactionScheduler;
  readonly #watches = new Set<EtcdWatch>();
  #lastKnownRevision = 0;
  #isClosed = false;

  constructor(client: Etcd3, options: EtcdStoreOptions, deps: { log: Logger; clock: Clock }) {
    this.#client = client;
    this.#options = options;
    this.#log = deps.log;
    this.#clock = deps.clock;
    this.#scheduler = new CompactionScheduler(this, options.compaction, deps);
    this.#scheduler.start();
  }

  /** The highest store revision this client has seen in any response. */
  get lastKnownRevision(): number {
    return this.#lastKnownRevision;
  }

  async get(key: string, options?: { revision?: number }): Promise<KeyValue> {
    const kv = await this.find(key, options);
    if (!kv) throw notFound(`Key "${key}" not found`);
    return kv;
  }

  async find(key: string, options?: { revision?: number }): Promise<KeyValue | undefined> {
    this.#checkOpen();
    validateKey(key);
    const revision = options?.revision ?? 0;
    validateRevision(revision, 'revision');
    const res = await this.#read(`read key "${key}"`, revision, () =>
      this.#client.kv.range({ key: Buffer.from(key), revision }),
    );
    const kv = res.kvs[0];
    return kv ? toKeyValue(kv) : undefined;
  }

  async list(prefix: string, options: ListOptions = {}): Promise<ListResult> {
    this.#checkOpen();
    validatePrefix(prefix);
    const revision = options.revision ?? 0;
    validateRevision(revision, 'revision');
    const limit = options.limit ?? 0;
    validateRevision(limit, 'limit');
    if (options.startKey !== undefined) validateStartKey(options.startKey, prefix);
    const start = options.startKey !== undefined ? Buffer.from(options.startKey) : prefixStart(prefix);
    const res = await this.#read(`list "${prefix}"`, revision, () =>
      this.#client.kv.range({
        key: start,
        range_end: prefixRangeEnd(prefix),
        revision,
        limit,
        count_only: options.countOnly ?? false,
      }),
    );
    return {
      items: res.kvs.map(toKeyValue),
      revision: revision === 0 ? Number(res.header.revision) : revision,
      more: res.more,
      count: Number(res.count),
    };
  }

  async create(key: string, value: Uint8Array): Promise<WriteResult> {
    this.#checkOpen();
    validateKey(key);
    validateValue(key, value, this.#options.maxValueBytes);
    const k = Buffer.from(key);
    const res = await this.#write(`create key "${key}"`, () =>
      this.#client.kv.txn({
        compare: [{ key: k, target: 'Mod', result: 'Equal', mod_revision: 0 }],
        success: [{ request_put: { key: k, value: Buffer.from(value) } }],
        failure: [{ request_range: { key: k } }],
      }),
    );
    const rev = Number(res.header.revision);
    if (!res.succeeded) {
      const current = res.responses[0]?.response_range.kvs[0];
      // The key vanished between compare and read cannot happen: a txn is atomic.
      return current
        ? { ok: false, reason: 'exists', current: toKeyValue(current), revision: rev }
        : { ok: false, reason: 'exists', revision: rev };
    }
    return {
      ok: true,
      revision: rev,
      kv: { key, value: Buffer.from(value), createRevision: rev, modRevision: rev },
    };
  }

  async update(key: string, value: Uint8Array, expectedRevision: number): Promise<WriteResult> {
    this.#checkOpen();
    validateKey(key);
    validateValue(key, value, this.#options.maxValueBytes);
    validateRevision(expectedRevision, 'expected revision');
    const k = Buffer.from(key);
    const res = await this.#write(`update key "${key}"`, () =>
      this.#client.kv.txn({
        compare: [
          expectedRevision === 0
            ? { key: k, target: 'Mod', result: 'Greater', mod_revision: 0 }
            : { key: k, target: 'Mod', result: 'Equal', mod_revision: expectedRevision },
        ],
        success: [{ request_put: { key: k, value: Buffer.from(value), prev_kv: true } }],
        failure: [{ request_range: { key: k } }],
      }),
    );
    const rev = Number(res.header.revision);
    if (!res.succeeded) return this.#lostCas(res.responses[0]?.response_range.kvs[0], rev);
    const prevKv = res.responses[0]?.response_put.prev_kv;
    const prev = prevKv ? toKeyValue(prevKv) : undefined;
    const kv: KeyValue = {
      key,
      value: Buffer.from(value),
      createRevision: prev?.createRevision ?? rev,
      modRevision: rev,
    };
    return prev ? { ok: true, revision: rev, kv, prev } : { ok: true, revision: rev, kv };
  }

  async delete(key: string, expectedRevision: number): Promise<WriteResult> {
    this.#checkOpen();
    validateKey(key);
    validateRevision(expectedRevision, 'expected revision');
    const k = Buffer.from(key);
    const res = await this.#write(`delete key "${key}"`, () =>
      this.#client.kv.txn({
        compare: [
          expectedRevision === 0
            ? { key: k, target: 'Mod', result: 'Greater', mod_revision: 0 }
            : { key: k, target: 'Mod', result: 'Equal', mod_revision: expectedRevision },
        ],
        success: [{ request_delete_range: { key: k, prev_kv: true } }],
        failure: [{ request_range: { key: k } }],
      }),
    );
    const rev = Number(res.header.revision);
    if (!res.succeeded) return this.#lostCas(res.responses[0]?.response_range.kvs[0], rev);
    const prevKv = res.responses[0]?.response_delete_range.prev_kvs[0];
    const kv: KeyValue = { key, value: emptyValue, createRevision: 0, modRevision: rev };
    return prevKv
      ? { ok: true, revision: rev, kv, prev: toKeyValue(prevKv) }
      : { ok: true, revision: rev, kv };
  }

  watch(prefix: string, options: WatchOptions = {}): WatchStream {
    const queue = new WatchQueue(this.#options.watchLimits, `"${prefix}"`);
    try {
      if (this.#isClosed) throw unavailable('Watch ended: the store is closed');
      validatePrefix(prefix);
      if (options.fromRevision !== undefined) validateRevision(options.fromRevision, 'watch revision');
      if (options.progressIntervalMs !== undefined && !(options.progressIntervalMs > 0)) {
        throw badRequest('Invalid progressIntervalMs: it must be a positive number of milliseconds');
      }
    } catch (err) {
      queue.fail(err as Error);
      return queue;
    }
    if (options.signal?.aborted) {
      queue.end();
      return queue;
    }
    const w = new EtcdWatch(this.#client, queue, prefix, options, {
      // Without fromRevision: everything after the newest revision this client has seen, which
      // includes every write that completed before this call.
      fromRevision: options.fromRevision ?? this.#lastKnownRevision,
      isFromNow: options.fromRevision === undefined,
      log: this.#log,
      clock: this.#clock,
      onRevision: (r) => this.#seen(r),
      onFinish: () => this.#watches.delete(w),
    });
    this.#watches.add(w);
    w.start();
    return queue;
  }

  async currentRevision(): Promise<number> {
    this.#checkOpen();
    const res = await this.#read('read the current revision', 0, () =>
      this.#client.kv.range({ key: compactKey, count_only: true }),
    );
    return Number(res.header.revision);
  }

  async compactedRevision(): Promise<number> {
    this.#checkOpen();
    const res = await this.#read('read the compacted revision', 0, () =>
      this.#client.kv.range({ key: compactKey }),
    );
    const kv = res.kvs[0];
    return kv ? Number(kv.value.toString()) || 0 : 0;
  }

  async compact(revision: number): Promise<void> {
    this.#checkOpen();
    validateRevision(revision, 'compact revision');
    const current = await this.currentRevision();
    if (revision > current) {
      throw timeout(`Cannot compact at revision ${revision}: the current revision is ${current}`);
    }
    if (revision <= (await this.compactedRevision())) return;
    try {
      await this.#client.kv.compact({ revision, physical: false });
    } catch (err) {
      const mapped = this.#mapError(err, `compact at revision ${revision}`, revision);
      // Already compacted further by another server: nothing to do.
      if (mapped.code !== 'Expired') throw mapped;
    }
    await this.#recordCompaction(revision);
  }

  async close(): Promise<void> {
    if (this.#isClosed) return;
    this.#isClosed = true;
    await this.#scheduler.stop();
    const closed = unavailable('Watch ended: the store is closed');
    for (const w of [...this.#watches]) w.fail(closed);
    this.#client.close();
  }

  /** Raises the recorded compacted revision (never lowers it), retrying lost races. */
  async #recordCompaction(revision: number): Promise<void> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const res = await this.#read('read the compacted revision', 0, () =>
        this.#client.kv.range({ key: compactKey }),
      );
      const kv = res.kvs[0];
      if (kv && Number(kv.value.toString()) >= revision) return;
      const txn = await this.#write('record the compacted revision', () =>
        this.#client.kv.txn({
          compare: [
            { key: compactKey, target: 'Mod', result: 'Equal', mod_revision: kv ? kv.mod_revision : 0 },
          ],
          success: [{ request_put: { key: compactKey, value: Buffer.from(String(revision)) } }],
          failure: [],
        }),
      );
      if (txn.succeeded) return;
    }
    throw unavailable(`Cannot record compaction at revision ${revision}: too many concurrent compactions`);
  }

  #lostCas(current: IKeyValue | undefined, revision: number): WriteResult {
    return current
      ? { ok: false, reason: 'conflict', current: toKeyValue(current), revision }
      : { ok: false, reason: 'notFound', revision };
  }

  #seen(revision: number): void {
    if (revision > this.#lastKnownRevision) this.#lastKnownRevision = revision;
  }

  #checkOpen(): void {
    if (this.#isClosed) throw unavailable('The store is closed');
  }

  /** A read: retried a few times on unavailability (reads are idempotent). */
  async #read<T extends { header: IResponseHeader }>(
    what: string,
    revision: number,
    call: () => Promise<T>,
  ): Promise<T> {
    let lastError: H8sError | undefined;
    for (let attempt = 0; attempt < 4; attempt++) {
      if (attempt > 0) await this.#clock.sleep(50 * 2 ** attempt);
      try {
        const res = await call();
        this.#seen(Number(res.header.revision));
        return res;
      } catch (err) {
        lastError = this.#mapError(err, what, revision);
        if (lastError.code !== 'ServiceUnavailable' || this.#isClosed) throw lastError;
      }
    }
    throw lastError as H8sError;
  }

  /** A write: retried only when the request provably never reached etcd. */
  async #write<T extends { header: IResponseHeader }>(what: string, call: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await call();
        this.#seen(Number(res.header.revision));
        return res;
      } catch (err) {
        const mapped = this.#mapError(err, what, 0);
        if (mapped.code === 'ServiceUnavailable' && attempt < 3 && neverSent(err) && !this.#isClosed) {
          await this.#clock.sleep(50 * 2 ** attempt);
          continue;
        }
        if (mapped.code === 'ServiceUnavailable' && !neverSent(err)) {
          throw unavailable(`${mapped.message} (the write may or may not have been applied)`, { cause: err });
        }
        throw mapped;
      }
    }
  }

  #mapError(err: unknown, what: string, revision: number): H8sError {
    return mapEtcdError(err, `Cannot ${what} in etcd at ${this.#options.endpoints.join(',')}`, revision);
  }
}

type PolicyFn<T> = (context: { signal: AbortSignal; attempt: number }) => PromiseLike<T> | T;

/** The part of a cockatiel policy the etcd3 client calls: run once, no retry. */
const noRetryPolicy = {
  execute: <T>(fn: PolicyFn<T>): Promise<T> =>
    Promise.resolve().then(() => fn({ signal: new AbortController().signal, attempt: 0 })),
};

const skippedMessage = 'etcd member skipped after repeated connection failures';

/**
 * A per-member circuit breaker for multi-member clusters: after `threshold` consecutive
 * connection-level failures the member is skipped for `openMs` (the client then tries the next
 * member without sending anything); one failure after that re-opens it.
 */
class HostBreaker {
  readonly #threshold: number;
  readonly #openMs: number;
  #failures = 0;
  #openUntil = 0;
  #isHalfOpen = false;

  constructor(threshold: number, openMs: number) {
    this.#threshold = threshold;
    this.#openMs = openMs;
  }

  async execute<T>(fn: PolicyFn<T>): Promise<T> {
    const now = Date.now();
    if (now < this.#openUntil) throw new Error(skippedMessage);
    if (this.#openUntil !== 0) {
      this.#openUntil = 0;
      this.#isHalfOpen = true;
    }
    try {
      const r = await fn({ signal: new AbortController().signal, attempt: 0 });
      this.#failures = 0;
      this.#isHalfOpen = false;
      return r;
    } catch (err) {
      if (err instanceof Error && isRecoverableError(err)) {
        this.#failures++;
        if (this.#isHalfOpen || this.#failures >= this.#threshold) {
          this.#openUntil = Date.now() + this.#openMs;
          this.#failures = 0;
          this.#isHalfOpen = false;
        }
      }
      throw err;
    }
  }
}

/** gRPC failures that happen before a request is sent (no connection could be made). */
function neverSent(err: unknown): boolean {
  const msg = err instanceof Error ? err.message : String(err);
  // grpc-js reports a call that found no usable connection this way; nothing was written.
  return msg.includes(skippedMessage) || /No connection established|ECONNREFUSED/i.test(msg);
}

/** Maps an etcd/gRPC error to our vocabulary (etcd's error strings are part of its API). */
export function mapEtcdError(err: unknown, context: string, revision: number): H8sError {
  if (err instanceof H8sError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  const name = err instanceof Error ? err.constructor.name : '';
  if (msg.includes('required revision has been compacted')) {
    return expired(`${context}: revision ${revision} has been compacted`, { cause: err });
  }
  if (msg.includes('required revision is a future revision')) {
    return timeout(`${context}: revision ${revision} is in the future`, { cause: err });
  }
  if (msg.includes('request is too large') || name === 'GRPCResourceExhastedError') {
    return tooLarge(`${context}: the request is larger than etcd accepts`, { cause: err });
  }
  if (
    name === 'GRPCUnavailableError' ||
    name === 'GRPCDeadlineExceededError' ||
    name === 'GRPCCancelledError' ||
    name === 'ClientClosedError' ||
    name === 'BrokenCircuitError' ||
    /no leader|leader changed|timed out|too many requests|not capable|Unavailable|ECONNREFUSED|No connection/i.test(
      msg,
    )
  ) {
    return unavailable(`${context}: ${describeError(err)}`, { cause: err });
  }
  return internal(`${context}: ${describeError(err)}`, { cause: err });
}

function toKeyValue(kv: IKeyValue): KeyValue {
  return {
    key: kv.key.toString('utf8'),
    value: kv.value,
    createRevision: Number(kv.create_revision),
    modRevision: Number(kv.mod_revision),
  };
}

function prefixStart(prefix: string): Buffer {
  return prefix === '' ? firstUserKey : Buffer.from(prefix);
}

/** etcd's prefix range end: the prefix with its last byte below 0xff incremented. */
function prefixRangeEnd(prefix: string): Buffer {
  const b = Buffer.from(prefix);
  for (let i = b.length - 1; i >= 0; i--) {
    if ((b[i] as number) < 0xff) {
      const end = Buffer.from(b.subarray(0, i + 1));
      end[i] = (end[i] as number) + 1;
      return end;
    }
  }
  return toTheEnd;
}

interface EtcdWatchDeps {
  readonly fromRevision: number;
  readonly isFromNow: boolean;
  readonly log: Logger;
  readonly clock: Clock;
  readonly onRevision: (revision: number) => void;
  readonly onFinish: () => void;
}

type WatchDuplex = Awaited<ReturnType<Etcd3['watchClient']['watch']>>;

/**
 * One watch on its own gRPC stream. `#last` is the revision of the last event handed to the
 * queue (or the start point); after any stream failure it re-creates the watch from `#last + 1`
 * on whichever member answers, and drops events it already delivered.
 */
class EtcdWatch {
  readonly #client: Etcd3;
  readonly #queue: WatchQueue;
  readonly #prefix: string;
  readonly #options: WatchOptions;
  readonly #deps: EtcdWatchDeps;
  readonly #log: Logger;
  #last: number;
  #isFromNow: boolean;
  #stream: WatchDuplex | undefined;
  #fragments: IWatchResponse['events'] = [];
  #retryMs = 50;
  #retryTimer: TimerHandle | undefined;
  #progressTimer: TimerHandle | undefined;
  #isBusy = false;
  #isDone = false;
  #onAbort: (() => void) | undefined;

  constructor(client: Etcd3, queue: WatchQueue, prefix: string, options: WatchOptions, deps: EtcdWatchDeps) {
    this.#client = client;
    this.#queue = queue;
    this.#prefix = prefix;
    this.#options = options;
    this.#deps = deps;
    this.#log = createRateLimitedLogger(deps.log, { burst: 5, windowMs: 60_000 });
    this.#last = deps.fromRevision;
    this.#isFromNow = deps.isFromNow;
    queue.setOnFinish(() => this.#finish());
  }

  start(): void {
    const signal = this.#options.signal;
    if (signal) {
      this.#onAbort = () => this.#queue.end();
      signal.addEventListener('abort', this.#onAbort, { once: true });
    }
    if (this.#options.progressIntervalMs !== undefined)
      this.#scheduleProgress(this.#options.progressIntervalMs);
    this.#connect();
  }

  fail(err: Error): void {
    this.#queue.fail(err);
  }

  #connect(): void {
    if (this.#isDone) return;
    this.#client.watchClient.watch().then(
      (stream) => {
        if (this.#isDone) {
          stream.end();
          return;
        }
        this.#stream = stream;
        this.#fragments = [];
        // Handlers ignore a stream once it is no longer the current one (after a restart).
        stream.on('data', (res: IWatchResponse) => {
          if (stream === this.#stream) this.#onResponse(res);
        });
        stream.on('error', (err: Error) => this.#onBroken(stream, err));
        stream.on('end', () => this.#onBroken(stream, new Error('the watch stream ended')));
        stream.write({
          create_request: {
            key: prefixStart(this.#prefix),
            range_end: prefixRangeEnd(this.#prefix),
            start_revision: this.#last + 1,
            prev_kv: true,
            progress_notify: true,
            fragment: true,
          },
        });
      },
      (err: unknown) => this.#onBroken(undefined, err instanceof Error ? err : new Error(String(err))),
    );
  }

  #onResponse(res: IWatchResponse): void {
    if (this.#isDone) return;
    const header = Number(res.header.revision);
    this.#deps.onRevision(header);
    if (res.canceled) {
      const compactRev = Number(res.compact_revision);
      if (compactRev > 0) {
        if (this.#isFromNow && this.#last === this.#deps.fromRevision) {
          // "From now" started from a revision this client saw long ago: start from the head.
          this.#last = Math.max(this.#last, compactRev, header);
          this.#restart();
          return;
        }
        this.#queue.fail(compactedError(this.#last, compactRev));
        return;
      }
      this.#queue.fail(
        unavailable(
          `Watch on "${this.#prefix}" was cancelled by etcd: ${res.cancel_reason || 'no reason given'}`,
        ),
      );
      return;
    }
    if (res.created) {
      this.#retryMs = 50;
      this.#isFromNow = false;
    }
    const batch = res.events ?? [];
    if (res.fragment) {
      this.#fragments.push(...batch);
      return;
    }
    const events = this.#fragments.length > 0 ? [...this.#fragments, ...batch] : batch;
    this.#fragments = [];
    if (events.length === 0) {
      // A progress notification (or the create answer): every event up to `header` has been
      // sent on this stream.
      if (!res.created && header > this.#last && this.#options.progressIntervalMs !== undefined) {
        this.#last = header;
        this.#queue.push({ type: 'progress', revision: header });
      }
      return;
    }
    for (const e of events) {
      const rev = Number(e.kv.mod_revision);
      if (rev <= this.#last) continue; // already delivered before a reconnect
      const kv: KeyValue =
        e.type === 'Delete'
          ? { key: e.kv.key.toString('utf8'), value: emptyValue, createRevision: 0, modRevision: rev }
          : toKeyValue(e.kv);
      const prev = e.prev_kv && e.prev_kv.key.length > 0 ? toKeyValue(e.prev_kv) : undefined;
      const event: WatchEvent = prev
        ? { type: e.type === 'Delete' ? 'delete' : 'put', kv, prev, revision: rev }
        : { type: e.type === 'Delete' ? 'delete' : 'put', kv, revision: rev };
      this.#last = rev;
      this.#isBusy = true;
      if (!this.#queue.push(event)) return;
    }
  }

  #onBroken(stream: WatchDuplex | undefined, err: Error): void {
    if (this.#isDone || (stream !== undefined && stream !== this.#stream)) return;
    this.#stream = undefined;
    try {
      stream?.cancel();
    } catch {
      // already closed
    }
    this.#log.warn('Watch stream to etcd broke; resuming', {
      prefix: this.#prefix,
      fromRevision: this.#last + 1,
      retryMs: this.#retryMs,
      error: describeError(err),
    });
    const delay = this.#retryMs;
    this.#retryMs = Math.min(2000, this.#retryMs * 2);
    this.#retryTimer = this.#deps.clock.setTimeout(() => this.#connect(), delay);
  }

  #restart(): void {
    const s = this.#stream;
    this.#stream = undefined;
    try {
      s?.cancel();
    } catch {
      // already closed
    }
    this.#connect();
  }

  #scheduleProgress(intervalMs: number): void {
    this.#progressTimer = this.#deps.clock.setTimeout(() => {
      if (this.#isDone) return;
      if (!this.#isBusy && this.#stream) {
        // etcd answers with the current revision once this watch has caught up.
        this.#stream.write({ progress_request: {} });
      }
      this.#isBusy = false;
      this.#scheduleProgress(intervalMs);
    }, intervalMs);
  }

  #finish(): void {
    if (this.#isDone) return;
    this.#isDone = true;
    this.#retryTimer?.cancel();
    this.#progressTimer?.cancel();
    if (this.#onAbort) this.#options.signal?.removeEventListener('abort', this.#onAbort);
    const s = this.#stream;
    this.#stream = undefined;
    try {
      s?.cancel();
    } catch {
      // already closed
    }
    this.#deps.onFinish();
  }
}
