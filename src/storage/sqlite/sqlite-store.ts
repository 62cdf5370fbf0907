/**
 * `sqlite:///abs/path/state.db`: the default, single-node KeyValueStore on SQLite (the kine
 * model, in process). See docs/storage.md and docs/adr/0001-store-schema.md.
 *
 * - One connection, WAL, `locking_mode=EXCLUSIVE`: this process is the only reader and writer
 *   of the file (a second process gets ServiceUnavailable instead of corrupting it).
 * - Group commit: writes queue up and are applied together in one transaction (one fsync)
 *   on the next turn of the event loop. Each write still does its own compare-and-swap against
 *   the state left by the writes before it, and takes the next revision in queue order, so a
 *   batch is indistinguishable from the same writes committed one by one. A write resolves
 *   only after its transaction committed (with `synchronous=FULL`, after the fsync).
 * - better-sqlite3 is synchronous, so a transaction blocks the event loop while it runs; a batch
 *   is capped (128 writes or 8 MiB) to bound that stall (a few ms on an idle machine; figures in
 *   docs/adr/0001-store-schema.md). Because commit, fsync and publish run in one synchronous
 *   step, no read or watch can observe a write before it is durable.
 */
import Database from 'better-sqlite3';
import { isAbsolute } from 'node:path';
import {
  badRequest,
  type Clock,
  describeError,
  H8sError,
  internal,
  type Logger,
  notFound,
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
import { checkStoreFile, ensureStoreFile, explainOpenError, type StartupCheck } from './sqlite-file.js';

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

interface Outcome {
  readonly result: WriteResult;
  readonly event?: WatchEvent;
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
  const isNew = ensureStoreFile(path);
  if (!isNew) checkStoreFile(path, options.startupCheck);
  const checkMs = Math.round(deps.clock.monotonicMs() - started);
  let db: Database.Database;
  try {
    db = new Database(path, { fileMustExist: true });
  } catch (err) {
    throw explainOpenError(path, err);
  }
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (mode !== 'wal')
      throw internal(`Cannot open store "${path}": cannot switch it to WAL mode (got "${String(mode)}")`);
    db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    db.pragma('journal_size_limit = 67108864');
    db.pragma('cache_size = -16384');
    // Take the exclusive lock now (held until close) so a second process fails at start-up.
    db.exec('BEGIN EXCLUSIVE; COMMIT');
  } catch (err) {
    db.close();
    throw explainOpenError(path, err);
  }
  const store = new SqliteStore(db, options, deps);
  deps.log.info('Opened store', {
    path,
    isNew,
    revision: await store.currentRevision(),
    compactedRevision: await store.compactedRevision(),
    synchronous: options.synchronous,
    checkMs,
  });
  return store;
}

export class SqliteStore implements KeyValueStore {
  readonly #db: Database.Database;
  readonly #options: SqliteStoreOptions;
  readonly #log: Logger;
  readonly #hub: WatchHub;
  readonly #scheduler: CompactionScheduler;
  readonly #s: ReturnType<typeof prepareStatements>;
  readonly #applyBatch: (batch: readonly PendingWrite[]) => Outcome[];
  #revision: number;
  #compacted: number;
  #compactScan: number;
  #queue: PendingWrite[] = [];
  #queueHead = 0;
  #isFlushScheduled = false;
  #isClosed = false;
  #compaction: Promise<void> | undefined;

  constructor(db: Database.Database, options: SqliteStoreOptions, deps: { log: Logger; clock: Clock }) {
    this.#db = db;
    this.#options = options;
    this.#log = deps.log;
    this.#s = prepareStatements(db);
    // An empty store is at revision 1, as etcd is (resourceVersion "0" means "any" to clients).
    this.#revision = (this.#s.maxRevision.get() as number | null) ?? 1;
    this.#compacted = this.#meta('compact_revision');
    this.#compactScan = this.#meta('compact_scan');
    this.#applyBatch = db.transaction((batch: readonly PendingWrite[]) =>
      batch.map((p) => this.#apply(p.op)),
    );
    this.#hub = new WatchHub(
      {
        currentRevision: () => this.#revision,
        compactedRevision: () => this.#compacted,
        readEvents: (prefix, after, through, limit) => this.#readEvents(prefix, after, through, limit),
      },
      { clock: deps.clock, log: deps.log, limits: options.watchLimits },
    );
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
    const rev = this.#readRevision(options?.revision);
    return this.#read(() => {
      if (rev === this.#revision) {
        const row = this.#s.getCurrent.get(key) as LogRow | undefined;
        return row ? toKeyValue(row) : undefined;
      }
      const row = this.#s.getAt.get(key, rev) as LogRow | undefined;
      return row && !row.deleted ? toKeyValue(row) : undefined;
    });
  }

  async list(prefix: string, options: ListOptions = {}): Promise<ListResult> {
    this.#checkOpen();
    validatePrefix(prefix);
    const rev = this.#readRevision(options.revision);
    const limit = options.limit ?? 0;
    validateRevision(limit, 'limit');
    if (options.startKey !== undefined) validateStartKey(options.startKey, prefix);
    const start = options.startKey ?? prefix;
    const end = prefixEnd(prefix) ?? noUpperBound;
    const countOnly = options.countOnly ?? false;
    return this.#read(() => {
      let items: KeyValue[] = [];
      let count: number;
      if (rev === this.#revision) {
        if (!countOnly) {
          items = (this.#s.listCurrent.all(start, end, limit === 0 ? -1 : limit) as LogRow[]).map(toKeyValue);
        }
        count =
          countOnly || limit > 0 ? (this.#s.countCurrent.pluck().get(start, end) as number) : items.length;
      } else {
        // MAX(revision) per key from the covering index, streamed in key order (the LIMIT stops
        // the scan early); values are fetched only for the keys returned.
        if (!countOnly) {
          const revisions = this.#s.pageAt.pluck().all(start, end, rev, limit === 0 ? -1 : limit) as number[];
          items = revisions.map((r) => toKeyValue(this.#s.logRow.get(r) as LogRow));
        }
        count =
          countOnly || limit > 0 ? (this.#s.countAt.pluck().get(start, end, rev) as number) : items.length;
      }
      return { items, revision: rev, more: !countOnly && limit > 0 && count > items.length, count };
    });
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
    return this.#revision;
  }

  async compactedRevision(): Promise<number> {
    this.#checkOpen();
    return this.#compacted;
  }

  async compact(revision: number): Promise<void> {
    this.#checkOpen();
    validateRevision(revision, 'compact revision');
    if (revision > this.#revision) {
      throw timeout(`Cannot compact at revision ${revision}: the current revision is ${this.#revision}`);
    }
    if (revision <= this.#compacted) return;
    // First the logical step (durable, instant): reads and watches below `revision` now
    // answer Gone. Then the rows are deleted in chunks that leave the event loop free.
    this.#write(() => this.#s.setMeta.run(revision, 'compact_revision'), 'compact');
    this.#compacted = revision;
    this.#hub.onCompacted(revision);
    this.#startPhysicalCompaction();
    await this.#compaction;
  }

  async close(): Promise<void> {
    if (this.#isClosed) return;
    this.#isClosed = true;
    while (this.#queueHead < this.#queue.length) this.#flush(); // acknowledged only after commit
    await this.#scheduler.stop();
    await this.#compaction?.catch(() => {});
    this.#hub.closeAll(unavailable('Watch ended: the store is closed'));
    try {
      this.#db.close();
    } catch (err) {
      this.#log.warn('Cannot close store cleanly', { path: this.#options.path, error: describeError(err) });
    }
    this.#log.info('Closed store', { path: this.#options.path, revision: this.#revision });
  }

  // ---- writes -------------------------------------------------------------------------

  #enqueue(build: () => WriteOp): Promise<WriteResult> {
    return new Promise<WriteResult>((resolve, reject) => {
      if (this.#isClosed) throw unavailable('The store is closed');
      this.#queue.push({ op: build(), resolve, reject });
      if (!this.#isFlushScheduled) {
        this.#isFlushScheduled = true;
        // After the I/O callbacks of this turn, so concurrent requests share one commit.
        setImmediate(() => this.#flush());
      }
    });
  }

  #flush(): void {
    this.#isFlushScheduled = false;
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
      this.#isFlushScheduled = true;
      setImmediate(() => this.#flush());
    }
    if (batch.length === 0) return;
    const before = this.#revision;
    let outcomes: Outcome[];
    try {
      outcomes = this.#applyBatch(batch);
    } catch (err) {
      this.#revision = before; // the transaction rolled back
      if (batch.length > 1) {
        // Find the write that failed: each alone, so the others still commit.
        for (const p of batch) this.#applyAlone(p);
        return;
      }
      for (const p of batch) p.reject(this.#writeError(err));
      return;
    }
    this.#hub.publish(outcomes.flatMap((o) => (o.event ? [o.event] : [])));
    batch.forEach((p, i) => p.resolve((outcomes[i] as Outcome).result));
  }

  #applyAlone(p: PendingWrite): void {
    const before = this.#revision;
    try {
      const [o] = this.#applyBatch([p]);
      if (o?.event) this.#hub.publish([o.event]);
      p.resolve((o as Outcome).result);
    } catch (err) {
      this.#revision = before;
      p.reject(this.#writeError(err));
    }
  }

  /** One write inside the batch transaction: compare-and-swap against the state so far. */
  #apply(op: WriteOp): Outcome {
    const s = this.#s;
    const curRev = s.currentRevisionOf.pluck().get(op.key) as number | undefined;
    if (op.kind === 'create') {
      if (curRev !== undefined) {
        return {
          result: { ok: false, reason: 'exists', current: this.#kvAt(curRev), revision: this.#revision },
        };
      }
      const rev = ++this.#revision;
      s.insertLog.run(rev, op.key, 1, 0, rev, 0, op.value);
      s.upsertCurrent.run(op.key, rev);
      const kv: KeyValue = { key: op.key, value: op.value, createRevision: rev, modRevision: rev };
      return { result: { ok: true, revision: rev, kv }, event: { type: 'put', kv, revision: rev } };
    }
    if (curRev === undefined) return { result: { ok: false, reason: 'notFound', revision: this.#revision } };
    const prev = this.#kvAt(curRev);
    if (op.expected !== 0 && op.expected !== curRev) {
      return { result: { ok: false, reason: 'conflict', current: prev, revision: this.#revision } };
    }
    const rev = ++this.#revision;
    if (op.kind === 'update') {
      s.insertLog.run(rev, op.key, 0, 0, prev.createRevision, curRev, op.value);
      s.upsertCurrent.run(op.key, rev);
      const kv: KeyValue = {
        key: op.key,
        value: op.value,
        createRevision: prev.createRevision,
        modRevision: rev,
      };
      return {
        result: { ok: true, revision: rev, kv, prev },
        event: { type: 'put', kv, prev, revision: rev },
      };
    }
    s.insertLog.run(rev, op.key, 0, 1, 0, curRev, emptyValue);
    s.deleteCurrent.run(op.key);
    const kv: KeyValue = { key: op.key, value: emptyValue, createRevision: 0, modRevision: rev };
    return {
      result: { ok: true, revision: rev, kv, prev },
      event: { type: 'delete', kv, prev, revision: rev },
    };
  }

  #kvAt(revision: number): KeyValue {
    const row = this.#s.logRow.get(revision) as LogRow | undefined;
    if (!row)
      throw internal(`Store "${this.#options.path}" is inconsistent: revision ${revision} is missing`);
    return toKeyValue(row);
  }

  #writeError(err: unknown): Error {
    if (err instanceof H8sError) return err;
    const code = (err as { code?: unknown }).code;
    const what = `Cannot write to store "${this.#options.path}"`;
    if (code === 'SQLITE_FULL') return unavailable(`${what}: the disk is full`, { cause: err });
    this.#log.error('Store write failed', { path: this.#options.path, error: describeError(err) });
    return internal(`${what}: ${describeError(err)}`, { cause: err });
  }

  /** A small transaction outside the write queue (compaction state). */
  #write(fn: () => void, what: string): void {
    try {
      this.#db.transaction(fn)();
    } catch (err) {
      throw internal(`Cannot ${what} store "${this.#options.path}": ${describeError(err)}`, { cause: err });
    }
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

  #readRevision(revision: number | undefined): number {
    if (revision === undefined || revision === 0) return this.#revision;
    validateRevision(revision, 'revision');
    checkReadRevision(revision, this.#revision, this.#compacted);
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
   * Deletes, in chunks, every row that no read or watch at or above the compacted revision
   * can reach: rows superseded at or below it (the `prev_revision` of a row at or below it)
   * and tombstones at or below it. Progress is stored, so an interrupted run resumes.
   */
  async #compactRows(): Promise<void> {
    while (!this.#isClosed && this.#compactScan < this.#compacted) {
      const target = this.#compacted;
      let scan = this.#compactScan;
      let isAtHead = false;
      this.#write(() => {
        const rows = this.#s.compactRows.all(scan, target, compactChunkRows) as {
          revision: number;
          prev_revision: number;
          deleted: number;
        }[];
        let next = scan;
        for (const r of rows) {
          if (r.prev_revision > 0) this.#s.deleteLog.run(r.prev_revision);
          if (r.deleted) {
            if (r.revision === this.#revision) {
              // The newest row carries the current revision across restarts: keep this
              // tombstone (and rescan it next time) until a later write follows it.
              isAtHead = true;
              break;
            }
            this.#s.deleteLog.run(r.revision);
          }
          next = r.revision;
        }
        if (!isAtHead && rows.length < compactChunkRows) next = target;
        scan = next;
        this.#s.setMeta.run(scan, 'compact_scan');
      }, 'compact');
      this.#compactScan = scan;
      if (isAtHead) break;
      await new Promise<void>((resolve) => setImmediate(resolve));
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
    setMeta: db.prepare('UPDATE meta SET value = ? WHERE name = ?'),
    currentRevisionOf: db.prepare('SELECT revision FROM current WHERE key = ?'),
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
    insertLog: db.prepare(
      'INSERT INTO log (revision, key, created, deleted, create_revision, prev_revision, value) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
    upsertCurrent: db.prepare(
      'INSERT INTO current (key, revision) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET revision = excluded.revision',
    ),
    deleteCurrent: db.prepare('DELETE FROM current WHERE key = ?'),
    compactRows: db.prepare(
      'SELECT revision, prev_revision, deleted FROM log WHERE revision > ? AND revision <= ? ORDER BY revision LIMIT ?',
    ),
    deleteLog: db.prepare('DELETE FROM log WHERE revision = ?'),
  };
}
