/**
 * `sqlite:///abs/path/state.db`: the default, single-node KeyValueStore on SQLite (the kine
 * model, in process). See docs/storage.md and docs/adr/0001-store-schema.md.
 *
 * - Two connections, WAL: the event-loop thread reads (`query_only`); a writer thread
 *   (`sqlite-writer.ts`, worker_threads) is the only one that writes, so SQLite's work and the
 *   fsync of a commit overlap with request handling instead of stalling the event loop. The
 *   process holds an exclusive lock on `<path>.lock` while the store is open, so a second
 *   process (or a second store in this one) gets ServiceUnavailable instead of a shared file.
 * - Group commit: writes queue up and are sent to the writer together, one batch in flight at
 *   a time; the writer applies a batch in one transaction (one fsync). Each write still does its
 *   own compare-and-swap against the state left by the writes before it, and takes the next
 *   revision in queue order, so a batch is indistinguishable from the same writes committed one
 *   by one. A write resolves only after its transaction committed (with `synchronous=FULL`,
 *   after the fsync); a batch is capped (128 writes or 8 MiB).
 * - Revisions: `#revision` is the newest revision whose events were published to watchers.
 *   SQLite makes a commit visible to readers only after its WAL fsync, so nothing unsynced is
 *   ever read; a read at the head may still see a commit whose answer from the writer is a
 *   moment away. Reads at the head therefore run in one read transaction that also reads the
 *   head revision and report that revision, so a list and a watch from its revision neither
 *   miss nor repeat an event (the watch hub skips what a watcher's start revision covers).
 */
import Database from 'better-sqlite3';
import { isAbsolute } from 'node:path';
import type { Worker } from 'node:worker_threads';
import {
  badRequest,
  bestEffort,
  type Clock,
  describeError,
  errorFromWire,
  H8sError,
  internal,
  type Logger,
  notFound,
  startWorkerThread,
  timeout,
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
  checkReadRevision,
  prefixEnd,
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
  takeChoiceOption,
  takeCommonOptions,
  takeIntegerOption,
} from '../store-url.js';
import { WatchHub } from '../watch-hub.js';
import {
  acquireStoreLock,
  checkStoreFile,
  ensureStoreFile,
  explainOpenError,
  type StartupCheck,
} from './sqlite-file.js';
import { sqliteFailure } from './sqlite-failure.js';
import type {
  WireKeyValue,
  WireOp,
  WireOutcome,
  WriterInit,
  WriterReply,
  WriterRequest,
} from './sqlite-writer-protocol.js';

export interface SqliteStoreOptions extends CommonStoreOptions {
  readonly path: string;
  /** `full`: fsync on every commit (survives power loss). `normal`: survives a process crash only. */
  readonly synchronous: 'full' | 'normal';
  readonly startupCheck: StartupCheck;
  /** Most writes applied in one transaction. */
  readonly maxBatchWrites: number;
  /** Most value bytes applied in one transaction (a single larger write still goes alone). */
  readonly maxBatchBytes: number;
}

type WriteOp =
  | { readonly kind: 'create'; readonly key: string; readonly value: Buffer }
  | { readonly kind: 'update'; readonly key: string; readonly value: Buffer; readonly expected: number }
  | { readonly kind: 'delete'; readonly key: string; readonly expected: number };

interface PendingWrite {
  readonly op: WriteOp;
  readonly resolve: (r: WriteResult) => void;
  readonly reject: (e: unknown) => void;
}

interface LogRow {
  revision: number;
  key: string;
  deleted: number;
  create_revision: number;
  value: Buffer;
}

interface EventRow extends LogRow {
  prev_revision: number;
  prev_create_revision: number | null;
  prev_value: Buffer | null;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
type Request = DistributiveOmit<WriterRequest, 'id'>;

const emptyValue = Buffer.alloc(0);
// SQLite orders every TEXT value before every BLOB, so a BLOB bound as the exclusive end of a
// key range means "no upper bound" (the empty prefix) without a second set of statements.
const noUpperBound = Buffer.alloc(0);
const compactChunkRows = 1000;

/** Parses the sqlite URL options and opens (creating if needed) the store. */
export async function openSqliteStore(
  parsed: ParsedStoreUrl,
  deps: { log: Logger; clock: Clock },
): Promise<KeyValueStore> {
  let path: string;
  try {
    path = decodeURIComponent(parsed.location);
  } catch {
    throw badRequest(`Invalid datastore URL "${parsed.display}": the path is not valid percent-encoding`);
  }
  if (!isAbsolute(path) || path.endsWith('/')) {
    throw badRequest(
      `Invalid datastore URL "${parsed.display}": expected an absolute file path, as in sqlite:///var/lib/h8s/state.db`,
    );
  }
  const common = takeCommonOptions(parsed);
  const options: SqliteStoreOptions = {
    ...common,
    path,
    synchronous: takeChoiceOption(parsed, 'synchronous', ['full', 'normal'], 'full'),
    startupCheck: takeChoiceOption(parsed, 'startupCheck', ['quick', 'full', 'off'], 'quick'),
    maxBatchWrites: takeIntegerOption(parsed, 'maxBatchWrites', 128, { min: 1, max: 100_000 }),
    maxBatchBytes: 8 * 1024 * 1024,
  };
  rejectUnknownOptions(parsed, ['synchronous', 'startupCheck', 'maxBatchWrites']);

  const started = deps.clock.monotonicMs();
  // The lock first: nobody else may create, check or write the file while we do.
  const lock = acquireStoreLock(path);
  let db: Database.Database | undefined;
  let writer: WriterThread | undefined;
  try {
    const isNew = ensureStoreFile(path);
    if (!isNew) checkStoreFile(path, options.startupCheck);
    const checkMs = Math.round(deps.clock.monotonicMs() - started);
    try {
      db = new Database(path, { fileMustExist: true });
      db.pragma('busy_timeout = 10000');
      db.pragma('cache_size = -16384');
    } catch (err) {
      throw explainOpenError(path, err);
    }
    writer = await WriterThread.start({ path, synchronous: options.synchronous }, deps.log);
    try {
      // The writer switched the file to WAL; this connection only ever reads.
      db.pragma('query_only = ON');
    } catch (err) {
      throw explainOpenError(path, err);
    }
    const store = new SqliteStore(db, lock, writer, options, deps);
    deps.log.info('Opened store', {
      path,
      isNew,
      revision: await store.currentRevision(),
      compactedRevision: await store.compactedRevision(),
      synchronous: options.synchronous,
      checkMs,
    });
    return store;
  } catch (err) {
    await writer?.stop();
    db?.close();
    lock.close();
    throw err;
  }
}

/** The writer thread and the requests it has not answered yet. */
class WriterThread {
  readonly #worker: Worker;
  readonly #pending = new Map<number, { resolve: (r: WriterReply) => void; reject: (e: Error) => void }>();
  #nextId = 1;
  #failure: Error | undefined;
  #exited: Promise<void>;
  /** Called once when the thread fails or exits unasked (not after `stop`). */
  onFailure: ((err: Error) => void) | undefined;
  #isStopping = false;
  readonly #log: Logger;

  private constructor(worker: Worker, log: Logger) {
    this.#worker = worker;
    this.#log = log;
    this.#exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  }

  /** Starts the thread and waits until its connection is open. */
  static async start(init: WriterInit, log: Logger): Promise<WriterThread> {
    const worker = startWorkerThread(new URL('./sqlite-writer.js', import.meta.url), { workerData: init });
    const thread = new WriterThread(worker, log);
    let first: WriterReply;
    try {
      first = await new Promise<WriterReply>((resolve, reject) => {
        thread.#pending.set(0, { resolve, reject });
        thread.#listen();
      });
    } catch (err) {
      await worker.terminate();
      throw explainOpenError(init.path, err);
    }
    if (first.type !== 'ready') {
      await worker.terminate();
      throw first.type === 'failed'
        ? fromWire(first.error)
        : internal(`Cannot open store "${init.path}": the writer thread sent an unexpected first message`);
    }
    worker.unref(); // referenced only while it owes an answer
    return thread;
  }

  #listen(): void {
    this.#worker.on('message', (r: WriterReply) => {
      const p = this.#pending.get(r.id);
      if (!p) return;
      this.#pending.delete(r.id);
      if (this.#pending.size === 0) this.#worker.unref();
      p.resolve(r);
    });
    this.#worker.on('error', (err) => this.#fail(err));
    this.#worker.on('exit', (code) => this.#fail(new Error(`the writer thread exited with code ${code}`)));
  }

  #fail(err: Error): void {
    const isFirst = this.#failure === undefined;
    this.#failure ??= err;
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
    if (isFirst && !this.#isStopping) this.onFailure?.(err);
  }

  get hasFailed(): boolean {
    return this.#failure !== undefined;
  }

  /** Sends a request; resolves with the writer's answer (an `error` answer rejects). */
  request(req: Request): Promise<WriterReply> {
    if (this.#failure) return Promise.reject(this.#failure);
    const id = this.#nextId++;
    return new Promise<WriterReply>((resolve, reject) => {
      this.#pending.set(id, {
        resolve: (r) => (r.type === 'error' ? reject(fromWire(r.error)) : resolve(r)),
        reject,
      });
      if (this.#pending.size === 1) this.#worker.ref();
      this.#worker.postMessage({ ...req, id } as WriterRequest);
    });
  }

  /** Closes the writer's connection (after everything sent before) and ends the thread. */
  async stop(): Promise<void> {
    this.#isStopping = true;
    if (!this.#failure) {
      await bestEffort(this.#log, 'close the SQLite writer connection', this.request({ type: 'close' }));
    }
    await this.#worker.terminate();
    await this.#exited;
  }
}

/** The error the writer thread sent (already classified there). */
function fromWire(e: unknown): H8sError {
  return errorFromWire(e) ?? internal('The SQLite writer thread sent a malformed error');
}

/** A buffer (not a plain Uint8Array, which is what crosses threads) over the same bytes. */
function asBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

function fromWireKv(kv: WireKeyValue): KeyValue {
  return {
    key: kv.key,
    value: asBuffer(kv.value),
    createRevision: kv.createRevision,
    modRevision: kv.modRevision,
  };
}

export class SqliteStore implements KeyValueStore {
  readonly #db: Database.Database;
  readonly #lock: Database.Database;
  readonly #writer: WriterThread;
  readonly #options: SqliteStoreOptions;
  readonly #log: Logger;
  readonly #hub: WatchHub;
  readonly #scheduler: CompactionScheduler;
  readonly #s: ReturnType<typeof prepareStatements>;
  readonly #readHead: <T>(fn: (head: number) => T) => T;
  /** The newest revision whose events were published (every write up to it is acknowledged). */
  #revision: number;
  #compacted: number;
  #compactScan: number;
  #queue: PendingWrite[] = [];
  #queueHead = 0;
  #isFlushScheduled = false;
  /** The batch the writer is applying, if any (one at a time). */
  #inFlight: Promise<void> | undefined;
  /** Waiting for `#revision` to reach a revision (compaction of a revision not yet published). */
  #revisionWaiters: { revision: number; resolve: () => void }[] = [];
  #isClosed = false;
  #compaction: Promise<void> | undefined;

  constructor(
    db: Database.Database,
    lock: Database.Database,
    writer: WriterThread,
    options: SqliteStoreOptions,
    deps: { log: Logger; clock: Clock },
  ) {
    this.#db = db;
    this.#lock = lock;
    this.#writer = writer;
    this.#options = options;
    this.#log = deps.log;
    this.#s = prepareStatements(db);
    // An empty store is at revision 1, as etcd is (resourceVersion "0" means "any" to clients).
    this.#revision = this.#headRevision();
    this.#compacted = this.#meta('compact_revision');
    this.#compactScan = this.#meta('compact_scan');
    const readTx = db.transaction((fn: (head: number) => unknown) => fn(this.#headRevision()));
    this.#readHead = readTx as <T>(fn: (head: number) => T) => T;
    this.#hub = new WatchHub(
      {
        currentRevision: () => this.#revision,
        compactedRevision: () => this.#compacted,
        readEvents: (prefix, after, through, limit) => this.#readEvents(prefix, after, through, limit),
      },
      { clock: deps.clock, log: deps.log, limits: options.watchLimits },
    );
    writer.onFailure = (err) => {
      // Writes now fail with InternalError (reads go on); nothing waits for a publish forever.
      this.#log.error('The store writer thread stopped; writes fail until the store is reopened', {
        path: options.path,
        error: describeError(err),
      });
      for (const w of this.#revisionWaiters) w.resolve();
      this.#revisionWaiters = [];
    };
    this.#scheduler = new CompactionScheduler(this, options.compaction, deps);
    this.#scheduler.start();
    if (this.#compactScan < this.#compacted) this.#startPhysicalCompaction(); // interrupted last time
  }

  async get(key: string, options?: { revision?: number }): Promise<KeyValue> {
    const kv = await this.find(key, options);
    if (!kv) throw notFound(`Key "${key}" not found`);
    return kv;
  }

  async find(key: string, options?: { revision?: number }): Promise<KeyValue | undefined> {
    this.#checkOpen();
    validateKey(key);
    const asked = options?.revision;
    if (asked === undefined || asked === 0) {
      // One statement is one snapshot: the key's newest committed state.
      return this.#read(() => {
        const row = this.#s.getCurrent.get(key) as LogRow | undefined;
        return row ? toKeyValue(row) : undefined;
      });
    }
    const rev = this.#readRevision(asked);
    return this.#read(() =>
      this.#readHead((head) => {
        if (rev === head) {
          const row = this.#s.getCurrent.get(key) as LogRow | undefined;
          return row ? toKeyValue(row) : undefined;
        }
        const row = this.#s.getAt.get(key, rev) as LogRow | undefined;
        return row && !row.deleted ? toKeyValue(row) : undefined;
      }),
    );
  }

  async list(prefix: string, options: ListOptions = {}): Promise<ListResult> {
    this.#checkOpen();
    validatePrefix(prefix);
    const asked = options.revision === 0 ? undefined : options.revision;
    const rev = asked === undefined ? undefined : this.#readRevision(asked);
    const limit = options.limit ?? 0;
    validateRevision(limit, 'limit');
    if (options.startKey !== undefined) validateStartKey(options.startKey, prefix);
    const start = options.startKey ?? prefix;
    const end = prefixEnd(prefix) ?? noUpperBound;
    const countOnly = options.countOnly ?? false;
    return this.#read(() =>
      this.#readHead((head) => {
        const at = rev ?? head;
        let items: KeyValue[] = [];
        let count: number;
        if (at === head) {
          if (!countOnly) {
            items = (this.#s.listCurrent.all(start, end, limit === 0 ? -1 : limit) as LogRow[]).map(
              toKeyValue,
            );
          }
          count =
            countOnly || limit > 0 ? (this.#s.countCurrent.pluck().get(start, end) as number) : items.length;
        } else {
          // MAX(revision) per key from the covering index, streamed in key order (the LIMIT stops
          // the scan early); values are fetched only for the keys returned.
          if (!countOnly) {
            const revisions = this.#s.pageAt
              .pluck()
              .all(start, end, at, limit === 0 ? -1 : limit) as number[];
            items = revisions.map((r) => toKeyValue(this.#s.logRow.get(r) as LogRow));
          }
          count =
            countOnly || limit > 0 ? (this.#s.countAt.pluck().get(start, end, at) as number) : items.length;
        }
        return { items, revision: at, more: !countOnly && limit > 0 && count > items.length, count };
      }),
    );
  }

  create(key: string, value: Uint8Array): Promise<WriteResult> {
    return this.#enqueue(() => {
      validateKey(key);
      validateValue(key, value, this.#options.maxValueBytes);
      // Copy now: the caller may reuse its buffer before the batch commits, and watchers
      // share this copy.
      return { kind: 'create', key, value: Buffer.from(value) };
    });
  }

  update(key: string, value: Uint8Array, expectedRevision: number): Promise<WriteResult> {
    return this.#enqueue(() => {
      validateKey(key);
      validateValue(key, value, this.#options.maxValueBytes);
      validateRevision(expectedRevision, 'expected revision');
      return { kind: 'update', key, value: Buffer.from(value), expected: expectedRevision };
    });
  }

  delete(key: string, expectedRevision: number): Promise<WriteResult> {
    return this.#enqueue(() => {
      validateKey(key);
      validateRevision(expectedRevision, 'expected revision');
      return { kind: 'delete', key, expected: expectedRevision };
    });
  }

  watch(prefix: string, options?: WatchOptions): WatchStream {
    return this.#hub.watch(prefix, options);
  }

  async currentRevision(): Promise<number> {
    this.#checkOpen();
    // A commit can be visible a moment before the writer's answer arrives; reads report it.
    return Math.max(
      this.#revision,
      this.#read(() => this.#headRevision()),
    );
  }

  async compactedRevision(): Promise<number> {
    this.#checkOpen();
    return this.#compacted;
  }

  async compact(revision: number): Promise<void> {
    this.#checkOpen();
    validateRevision(revision, 'compact revision');
    const head = await this.currentRevision();
    if (revision > head) {
      throw timeout(`Cannot compact at revision ${revision}: the current revision is ${head}`);
    }
    // Watchers must have had every event up to it before it is compacted.
    await this.#revisionReached(revision);
    if (revision <= this.#compacted) return;
    // First the logical step (durable, instant): reads and watches below `revision` now
    // answer Gone. Then the writer deletes the rows in chunks, between batches of writes.
    try {
      await this.#writer.request({ type: 'setCompacted', revision });
    } catch (err) {
      throw internal(`Cannot compact store "${this.#options.path}": ${describeError(err)}`, { cause: err });
    }
    if (revision <= this.#compacted) return;
    this.#compacted = revision;
    this.#hub.onCompacted(revision);
    this.#startPhysicalCompaction();
    await this.#compaction;
  }

  async close(): Promise<void> {
    if (this.#isClosed) return;
    this.#isClosed = true;
    // Acknowledged only after commit: send everything queued, one batch at a time.
    while (this.#inFlight || this.#queueHead < this.#queue.length) {
      if (this.#inFlight) await this.#inFlight;
      else this.#flush();
    }
    await this.#scheduler.stop();
    await this.#compaction; // never rejects: #startPhysicalCompaction logs its failure
    for (const w of this.#revisionWaiters) w.resolve();
    this.#revisionWaiters = [];
    await this.#writer.stop();
    this.#hub.closeAll(unavailable('Watch ended: the store is closed'));
    try {
      this.#db.close();
    } catch (err) {
      this.#log.warn('Cannot close store cleanly', { path: this.#options.path, error: describeError(err) });
    }
    this.#lock.close();
    this.#log.info('Closed store', { path: this.#options.path, revision: this.#revision });
  }

  // ---- writes -------------------------------------------------------------------------

  #enqueue(build: () => WriteOp): Promise<WriteResult> {
    return new Promise<WriteResult>((resolve, reject) => {
      if (this.#isClosed) throw unavailable('The store is closed');
      this.#queue.push({ op: build(), resolve, reject });
      if (!this.#isFlushScheduled && !this.#inFlight) {
        this.#isFlushScheduled = true;
        // After the I/O callbacks of this turn, so concurrent requests share one commit.
        setImmediate(() => this.#flush());
      }
    });
  }

  /** Sends the next batch to the writer (when none is in flight). */
  #flush(): void {
    this.#isFlushScheduled = false;
    if (this.#inFlight) return;
    const queue = this.#queue;
    let end = this.#queueHead;
    let bytes = 0;
    while (end < queue.length && end - this.#queueHead < this.#options.maxBatchWrites) {
      const op = (queue[end] as PendingWrite).op;
      const size = op.kind === 'delete' ? 0 : op.value.byteLength;
      if (end > this.#queueHead && bytes + size > this.#options.maxBatchBytes) break;
      bytes += size;
      end++;
    }
    const batch = queue.slice(this.#queueHead, end);
    if (end >= queue.length) {
      this.#queue = [];
      this.#queueHead = 0;
    } else {
      this.#queueHead = end;
    }
    if (batch.length === 0) return;
    this.#inFlight = this.#writer.request({ type: 'batch', ops: batch.map((p) => p.op as WireOp) }).then(
      (r) => this.#settle(batch, r.type === 'batch' ? r.outcomes : []),
      (err: unknown) => {
        const e = this.#writeError(err);
        for (const p of batch) p.reject(e);
      },
    );
    void this.#inFlight.finally(() => {
      this.#inFlight = undefined;
      // Writes that queued up while this batch committed go together now.
      if (this.#queueHead < this.#queue.length) this.#flush();
    });
  }

  /** Publishes the committed writes of a batch in revision order, then acknowledges them. */
  #settle(batch: readonly PendingWrite[], outcomes: readonly WireOutcome[]): void {
    const events: WatchEvent[] = [];
    const results: (WriteResult | Error)[] = [];
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i] as PendingWrite;
      const o = outcomes[i];
      if (!o) {
        results.push(internal(`Cannot write to store "${this.#options.path}": the writer lost the write`));
        continue;
      }
      if ('error' in o) {
        results.push(this.#writeError(fromWire(o.error)));
        continue;
      }
      if (!o.ok) {
        results.push(
          o.current
            ? { ok: false, reason: o.reason, current: fromWireKv(o.current), revision: o.revision }
            : { ok: false, reason: o.reason, revision: o.revision },
        );
        continue;
      }
      const op = p.op;
      const rev = o.revision;
      if (rev > this.#revision) this.#revision = rev;
      if (op.kind === 'create') {
        const kv: KeyValue = { key: op.key, value: op.value, createRevision: rev, modRevision: rev };
        events.push({ type: 'put', kv, revision: rev });
        results.push({ ok: true, revision: rev, kv });
        continue;
      }
      const prev = fromWireKv(o.prev as WireKeyValue);
      const kv: KeyValue =
        op.kind === 'update'
          ? { key: op.key, value: op.value, createRevision: o.createRevision, modRevision: rev }
          : { key: op.key, value: emptyValue, createRevision: 0, modRevision: rev };
      events.push({ type: op.kind === 'update' ? 'put' : 'delete', kv, prev, revision: rev });
      results.push({ ok: true, revision: rev, kv, prev });
    }
    this.#hub.publish(events);
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i] as PendingWrite;
      const r = results[i] as WriteResult | Error;
      if (r instanceof Error) p.reject(r);
      else p.resolve(r);
    }
    if (this.#revisionWaiters.length > 0) {
      const waiting = this.#revisionWaiters;
      this.#revisionWaiters = [];
      for (const w of waiting) {
        if (w.revision <= this.#revision) w.resolve();
        else this.#revisionWaiters.push(w);
      }
    }
  }

  /** Resolves once the writes up to `revision` are published (at once when they are). */
  #revisionReached(revision: number): Promise<void> {
    if (revision <= this.#revision || this.#isClosed || this.#writer.hasFailed) return Promise.resolve();
    return new Promise<void>((resolve) => this.#revisionWaiters.push({ revision, resolve }));
  }

  #writeError(err: unknown): H8sError {
    let e: H8sError;
    if (err instanceof H8sError) e = err;
    else {
      const failure = sqliteFailure('write', this.#options.path, undefined, describeError(err));
      e = new H8sError(failure.code, failure.message, { cause: err });
    }
    if (e.code === 'InternalError') {
      this.#log.error('Store write failed', { path: this.#options.path, error: describeError(e) });
    }
    return e;
  }

  // ---- reads --------------------------------------------------------------------------

  #read<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (err instanceof H8sError) throw err;
      throw internal(`Cannot read store "${this.#options.path}": ${describeError(err)}`, { cause: err });
    }
  }

  #headRevision(): number {
    return (this.#s.maxRevision.get() as number | null) ?? 1;
  }

  /** Checks an explicit read revision against the compacted and the newest committed one. */
  #readRevision(revision: number): number {
    validateRevision(revision, 'revision');
    const head = revision > this.#revision ? this.#read(() => this.#headRevision()) : this.#revision;
    checkReadRevision(revision, Math.max(head, this.#revision), this.#compacted);
    return revision;
  }

  #readEvents(prefix: string, after: number, through: number, limit: number): WatchEvent[] {
    const rows = this.#read(
      () =>
        this.#s.events.all(after, through, prefix, prefixEnd(prefix) ?? noUpperBound, limit) as EventRow[],
    );
    return rows.map((r) => {
      const isDelete = r.deleted === 1;
      const kv: KeyValue = {
        key: r.key,
        value: isDelete ? emptyValue : r.value,
        createRevision: isDelete ? 0 : r.create_revision,
        modRevision: r.revision,
      };
      const prev: KeyValue | undefined =
        r.prev_revision > 0 && r.prev_value !== null
          ? {
              key: r.key,
              value: r.prev_value,
              createRevision: r.prev_create_revision ?? 0,
              modRevision: r.prev_revision,
            }
          : undefined;
      return prev
        ? { type: isDelete ? 'delete' : 'put', kv, prev, revision: r.revision }
        : { type: isDelete ? 'delete' : 'put', kv, revision: r.revision };
    });
  }

  #meta(name: string): number {
    return (this.#s.getMeta.pluck().get(name) as number | undefined) ?? 0;
  }

  #checkOpen(): void {
    if (this.#isClosed) throw unavailable('The store is closed');
  }

  // ---- compaction ---------------------------------------------------------------------

  #startPhysicalCompaction(): void {
    if (this.#compaction) return;
    this.#compaction = this.#compactRows()
      .catch((err: unknown) => {
        this.#log.warn('Cannot remove compacted rows', {
          path: this.#options.path,
          error: describeError(err),
        });
      })
      .finally(() => {
        this.#compaction = undefined;
      });
  }

  /**
   * Has the writer delete, in chunks, every row that no read or watch at or above the
   * compacted revision can reach (see `sqlite-writer.ts`). Progress is stored, so an
   * interrupted run resumes.
   */
  async #compactRows(): Promise<void> {
    while (!this.#isClosed && this.#compactScan < this.#compacted) {
      const target = this.#compacted;
      const r = await this.#writer.request({
        type: 'compactChunk',
        scan: this.#compactScan,
        target,
        limit: compactChunkRows,
      });
      if (r.type !== 'compactChunk') return;
      this.#compactScan = r.scan;
      if (r.isAtHead) break;
    }
  }
}

function toKeyValue(row: LogRow): KeyValue {
  return { key: row.key, value: row.value, createRevision: row.create_revision, modRevision: row.revision };
}

function prepareStatements(db: Database.Database) {
  const kvCols = 'l.revision, l.key, l.deleted, l.create_revision, l.value';
  return {
    maxRevision: db.prepare('SELECT MAX(revision) FROM log').pluck(),
    getMeta: db.prepare('SELECT value FROM meta WHERE name = ?'),
    logRow: db.prepare('SELECT revision, key, deleted, create_revision, value FROM log WHERE revision = ?'),
    getCurrent: db.prepare(
      `SELECT ${kvCols} FROM current c JOIN log l ON l.revision = c.revision WHERE c.key = ?`,
    ),
    getAt: db.prepare(
      'SELECT revision, key, deleted, create_revision, value FROM log WHERE key = ? AND revision <= ? ' +
        'ORDER BY revision DESC LIMIT 1',
    ),
    listCurrent: db.prepare(
      `SELECT ${kvCols} FROM current c JOIN log l ON l.revision = c.revision ` +
        'WHERE c.key >= ? AND c.key < ? ORDER BY c.key LIMIT ?',
    ),
    countCurrent: db.prepare('SELECT COUNT(*) FROM current WHERE key >= ? AND key < ?'),
    // SQLite takes bare columns (deleted) from the row holding MAX(revision); both queries
    // read only the covering index (key, revision, deleted).
    pageAt: db.prepare(
      'SELECT revision FROM (SELECT key, MAX(revision) AS revision, deleted FROM log ' +
        'WHERE key >= ? AND key < ? AND revision <= ? GROUP BY key ORDER BY key) WHERE deleted = 0 LIMIT ?',
    ),
    countAt: db.prepare(
      'SELECT COUNT(*) FROM (SELECT MAX(revision), deleted FROM log ' +
        'WHERE key >= ? AND key < ? AND revision <= ? GROUP BY key) WHERE deleted = 0',
    ),
    // `+l.key` keeps SQLite on the revision range (bounded by the hub's scan window).
    events: db.prepare(
      `SELECT ${kvCols}, l.prev_revision, p.create_revision AS prev_create_revision, p.value AS prev_value ` +
        'FROM log l LEFT JOIN log p ON p.revision = l.prev_revision ' +
        'WHERE l.revision > ? AND l.revision <= ? AND +l.key >= ? AND +l.key < ? ORDER BY l.revision LIMIT ?',
    ),
  };
}
