/**
 * The writer thread of the SQLite store (a worker_threads worker started by `sqlite-store.ts`):
 * the only connection that writes. It applies each batch of writes in one transaction (one
 * fsync with `synchronous=FULL`) and answers with the outcomes only after COMMIT returned, so
 * the event loop keeps serving requests while SQLite works and the disk syncs, and a write is
 * still acknowledged only once it is durable.
 *
 * It is the only writer, so it owns the revision counter: each write in a batch does its own
 * compare-and-swap against the state the writes before it left, and takes the next revision
 * in batch order. A batch that fails as a whole (e.g. the disk is full) is retried one write at
 * a time, so only the writes that fail are reported as errors.
 *
 * It imports nothing but better-sqlite3 and the error classifier, which itself imports nothing
 * (it starts in a fresh thread; see the protocol).
 */
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';
import type { WireError } from '../../lib/index.js';
import { sqliteFailure, type SqliteAction } from './sqlite-failure.js';
import type {
  WireKeyValue,
  WireOp,
  WireOutcome,
  WriterInit,
  WriterReply,
  WriterRequest,
} from './sqlite-writer-protocol.js';

interface LogRow {
  revision: number;
  key: string;
  deleted: number;
  create_revision: number;
  value: Uint8Array;
}

const emptyValue = new Uint8Array(0);
const port = parentPort;
if (!port) throw new Error('sqlite-writer must run in a worker thread');

/** The wire form of a driver error while opening the store or writing to it. */
function wireError(err: unknown, action: SqliteAction = 'write'): WireError {
  const path = (workerData as WriterInit).path;
  return sqliteFailure(
    action,
    path,
    (err as { code?: unknown }).code,
    err instanceof Error ? err.message : String(err),
  );
}

function reply(r: WriterReply): void {
  port?.postMessage(r);
}

class Writer {
  readonly #db: Database.Database;
  readonly #s: ReturnType<typeof prepare>;
  readonly #applyBatch: (ops: readonly WireOp[]) => WireOutcome[];
  #revision: number;

  constructor(init: WriterInit) {
    const db = new Database(init.path, { fileMustExist: true });
    try {
      db.pragma('busy_timeout = 10000');
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (mode !== 'wal') throw new Error(`cannot switch it to WAL mode (got "${String(mode)}")`);
      db.pragma(`synchronous = ${init.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
      db.pragma('journal_size_limit = 67108864');
      db.pragma('cache_size = -16384');
    } catch (err) {
      db.close();
      throw err;
    }
    this.#db = db;
    this.#s = prepare(db);
    this.#revision = (this.#s.maxRevision.get() as number | null) ?? 1;
    this.#applyBatch = db.transaction((ops: readonly WireOp[]) => ops.map((op) => this.#apply(op)));
  }

  get revision(): number {
    return this.#revision;
  }

  batch(ops: readonly WireOp[]): WireOutcome[] {
    const before = this.#revision;
    try {
      return this.#applyBatch(ops);
    } catch (err) {
      this.#revision = before; // the transaction rolled back
      if (ops.length === 1) return [{ error: wireError(err) }];
    }
    // Find the write that failed: each alone, so the others still commit.
    return ops.map((op) => {
      const was = this.#revision;
      try {
        return (this.#applyBatch([op]) as [WireOutcome])[0];
      } catch (err) {
        this.#revision = was;
        return { error: wireError(err) };
      }
    });
  }

  setCompacted(revision: number): void {
    this.#db.transaction(() => this.#s.setMeta.run(revision, 'compact_revision'))();
  }

  /**
   * Deletes, in one transaction, up to `limit` rows that no read or watch at or above the
   * compacted revision can reach: rows superseded at or below it and tombstones at or below
   * it. Returns the new scan position (stored too, so an interrupted run resumes).
   */
  compactChunk(scan: number, target: number, limit: number): { scan: number; isAtHead: boolean } {
    let isAtHead = false;
    let next = scan;
    this.#db.transaction(() => {
      const rows = this.#s.compactRows.all(scan, target, limit) as {
        revision: number;
        prev_revision: number;
        deleted: number;
      }[];
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
      if (!isAtHead && rows.length < limit) next = target;
      this.#s.setMeta.run(next, 'compact_scan');
    })();
    return { scan: next, isAtHead };
  }

  close(): void {
    this.#db.close();
  }

  #apply(op: WireOp): WireOutcome {
    const s = this.#s;
    const curRev = s.currentRevisionOf.get(op.key) as number | undefined;
    if (op.kind === 'create') {
      if (curRev !== undefined) {
        return { ok: false, reason: 'exists', current: this.#kvAt(curRev), revision: this.#revision };
      }
      const rev = ++this.#revision;
      s.insertLog.run(rev, op.key, 1, 0, rev, 0, op.value);
      s.upsertCurrent.run(op.key, rev);
      return { ok: true, revision: rev, createRevision: rev };
    }
    if (curRev === undefined) return { ok: false, reason: 'notFound', revision: this.#revision };
    const prev = this.#kvAt(curRev);
    if (op.expected !== 0 && op.expected !== curRev) {
      return { ok: false, reason: 'conflict', current: prev, revision: this.#revision };
    }
    const rev = ++this.#revision;
    if (op.kind === 'update') {
      s.insertLog.run(rev, op.key, 0, 0, prev.createRevision, curRev, op.value);
      s.upsertCurrent.run(op.key, rev);
      return { ok: true, revision: rev, createRevision: prev.createRevision, prev };
    }
    s.insertLog.run(rev, op.key, 0, 1, 0, curRev, emptyValue);
    s.deleteCurrent.run(op.key);
    return { ok: true, revision: rev, createRevision: 0, prev };
  }

  #kvAt(revision: number): WireKeyValue {
    const row = this.#s.logRow.get(revision) as LogRow | undefined;
    if (!row) throw new Error(`the store is inconsistent: revision ${revision} is missing`);
    return { key: row.key, value: row.value, createRevision: row.create_revision, modRevision: row.revision };
  }
}

function prepare(db: Database.Database) {
  return {
    maxRevision: db.prepare('SELECT MAX(revision) FROM log').pluck(),
    setMeta: db.prepare('UPDATE meta SET value = ? WHERE name = ?'),
    currentRevisionOf: db.prepare('SELECT revision FROM current WHERE key = ?').pluck(),
    logRow: db.prepare('SELECT revision, key, deleted, create_revision, value FROM log WHERE revision = ?'),
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

let writer: Writer | undefined;
try {
  writer = new Writer(workerData as WriterInit);
  reply({ id: 0, type: 'ready', revision: writer.revision });
} catch (err) {
  reply({ id: 0, type: 'failed', error: wireError(err, 'open') });
}

port.on('message', (m: WriterRequest) => {
  const w = writer;
  if (!w) {
    reply({ id: m.id, type: 'error', error: wireError(new Error('the writer thread did not start')) });
    return;
  }
  try {
    switch (m.type) {
      case 'batch':
        reply({ id: m.id, type: 'batch', outcomes: w.batch(m.ops) });
        return;
      case 'setCompacted':
        w.setCompacted(m.revision);
        reply({ id: m.id, type: 'done' });
        return;
      case 'compactChunk':
        reply({ id: m.id, type: 'compactChunk', ...w.compactChunk(m.scan, m.target, m.limit) });
        return;
      case 'close':
        writer = undefined;
        w.close();
        reply({ id: m.id, type: 'done' });
        port.close();
        return;
    }
  } catch (err) {
    reply({ id: m.id, type: 'error', error: wireError(err) });
  }
});
