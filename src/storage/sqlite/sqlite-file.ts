/**
 * Creating and checking the SQLite database file before the store opens it for writing.
 *
 * Rules: a new store is built under a temporary name and renamed into place, so an existing
 * file at the store's path is always one we finished creating; an existing file that is empty,
 * not SQLite, truncated, corrupt or not an h8s store is refused with an error naming the file,
 * and the check opens it read-only, so the file (and its -wal) are left exactly as they were.
 */
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { describeError, H8sError, internal } from '../../lib/index.js';
import { sqliteFailure } from './sqlite-failure.js';
import { applySchema, schemaVersion } from './sqlite-schema.js';

export type StartupCheck = 'quick' | 'full' | 'off';

const sqliteMagic = Buffer.from('SQLite format 3\0', 'latin1');

/**
 * Takes the store's process lock: an exclusive SQLite lock on `<path>.lock`, held until the
 * returned connection closes (the kernel drops it when the process dies, even by kill -9).
 * The store's own file is shared by two connections (reads, and the writer thread), so it
 * cannot hold the lock itself.
 * @throws ServiceUnavailable when another process (or another store in this one) holds it.
 */
export function acquireStoreLock(path: string): Database.Database {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  let db: Database.Database | undefined;
  try {
    // No waiting for a lock another process holds; no journal file beside it.
    db = new Database(`${path}.lock`, { timeout: 0 });
    db.pragma('journal_mode = MEMORY');
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE; COMMIT');
    return db;
  } catch (err) {
    db?.close();
    throw explainOpenError(path, err);
  }
}

/** Creates the store file at `path` if it does not exist yet; returns true when it did. */
export function ensureStoreFile(path: string): boolean {
  if (existsSync(path)) return false;
  for (const side of ['-wal', '-journal']) {
    if (existsSync(path + side)) {
      // A log without its database: opening would silently start from nothing.
      throw internal(
        `Cannot open store "${path}": the database file is missing but "${path + side}" exists; ` +
          'restore the database file or move the leftover file away',
      );
    }
  }
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // Leftovers of a creation cut short by a crash: never a store, since the rename did not happen.
  const stale = new RegExp(`^${escapeRegExp(basename(path))}\\.init-[0-9a-f]{8}(-wal|-shm|-journal)?$`);
  for (const name of readdirSync(dir)) if (stale.test(name)) rmSync(join(dir, name), { force: true });
  const tmp = `${path}.init-${randomBytes(4).toString('hex')}`;
  try {
    const db = new Database(tmp);
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.transaction(() => applySchema(db))();
    } finally {
      db.close(); // checkpoints and removes the -wal, leaving one complete file
    }
    const fd = openSync(tmp, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    fsyncDirectory(dir);
  } catch (err) {
    rmSync(tmp, { force: true });
    rmSync(tmp + '-wal', { force: true });
    rmSync(tmp + '-shm', { force: true });
    throw internal(`Cannot create store "${path}": ${describeError(err)}`, { cause: err });
  }
  return true;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function fsyncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Checks an existing store file without changing it.
 * @throws InternalError naming the file and what is wrong; ServiceUnavailable when another
 *   process holds the database.
 */
export function checkStoreFile(path: string, check: StartupCheck): void {
  const size = statSync(path).size;
  if (size === 0) {
    throw internal(
      `Cannot open store "${path}": the file is empty (truncated?); h8s never leaves an empty store file, ` +
        'so restore it from a backup or move it away to start a new store',
    );
  }
  const header = Buffer.alloc(100);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, header, 0, 100, 0);
  } finally {
    closeSync(fd);
  }
  if (size < 100 || !header.subarray(0, 16).equals(sqliteMagic)) {
    throw internal(`Cannot open store "${path}": the file is not an SQLite database (bad header)`);
  }
  // The read-only connection may create -shm/-wal side files; remove the ones it created.
  const sideFiles = ['-wal', '-shm'].map((s) => path + s).filter((f) => !existsSync(f));
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
    const problems = runCheck(db, check);
    if (problems.length > 0) {
      throw internal(
        `Cannot open store "${path}": the database is corrupt (${problems.slice(0, 3).join('; ')}); ` +
          'the file was left untouched: restore it from a backup or repair it with sqlite3 ".recover"',
      );
    }
    const version = readSchemaVersion(db, path);
    if (version > schemaVersion) {
      throw internal(
        `Cannot open store "${path}": it has schema version ${version}, newer than this h8s understands (${schemaVersion})`,
      );
    }
  } catch (err) {
    throw explainOpenError(path, err);
  } finally {
    db?.close();
    for (const f of sideFiles) rmSync(f, { force: true });
  }
}

function runCheck(db: Database.Database, check: StartupCheck): string[] {
  // Touch the schema first: a truncated or garbled file fails here with SQLITE_CORRUPT/NOTADB.
  db.prepare('SELECT count(*) FROM sqlite_schema').get();
  if (check === 'off') return [];
  const rows = db.pragma(check === 'full' ? 'integrity_check(20)' : 'quick_check(20)') as Record<
    string,
    string
  >[];
  const lines = rows.map((r) => String(Object.values(r)[0]));
  return lines.length === 1 && lines[0] === 'ok' ? [] : lines.map((l) => l.replace(/\s+/g, ' ').trim());
}

function readSchemaVersion(db: Database.Database, path: string): number {
  const hasMeta = db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'meta'").get();
  if (!hasMeta) {
    throw internal(
      `Cannot open store "${path}": it is an SQLite database but not an h8s store (no "meta" table)`,
    );
  }
  const row = db.prepare("SELECT value FROM meta WHERE name = 'schema_version'").get() as
    { value: number } | undefined;
  if (!row) throw internal(`Cannot open store "${path}": its schema version is missing`);
  return row.value;
}

/** Turns an SQLite error at open into an error naming the file and what to do. */
export function explainOpenError(path: string, err: unknown): Error {
  if (err instanceof H8sError) return err;
  const failure = sqliteFailure('open', path, (err as { code?: unknown }).code, describeError(err));
  return new H8sError(failure.code, failure.message, { cause: err });
}
