/**
 * The SQLite schema of the store (docs/adr/0001-store-schema.md).
 *
 * `log` is the append-only revision log of the kine model: one row per successful write, the
 * revision as INTEGER PRIMARY KEY (the rowid, so revision order is the table's physical order).
 * `created`/`deleted` give the event type, `prev_revision` points at the row this write
 * superseded (0 for a create), which is where watch events get their previous value:
 * compaction never removes a row that a retained event points at, so no old value is copied.
 * `current` maps each live key to its latest row, so reads and lists at the head revision do
 * not have to group the log. `meta` holds the schema version and the compaction state.
 */
import type Database from 'better-sqlite3';

export const schemaVersion = 1;

export const schemaSql = `
CREATE TABLE meta (
  name TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE log (
  revision INTEGER PRIMARY KEY,
  key TEXT NOT NULL,
  created INTEGER NOT NULL,
  deleted INTEGER NOT NULL,
  create_revision INTEGER NOT NULL,
  prev_revision INTEGER NOT NULL,
  value BLOB NOT NULL
);

-- Covering index for reads at a past revision: MAX(revision) per key with its deleted flag.
CREATE INDEX log_key_revision ON log (key, revision, deleted);

CREATE TABLE current (
  key TEXT PRIMARY KEY,
  revision INTEGER NOT NULL
) WITHOUT ROWID;
`;

/** Creates the tables of a new store (inside the caller's transaction). */
export function applySchema(db: Database.Database): void {
  db.exec(schemaSql);
  const put = db.prepare('INSERT INTO meta (name, value) VALUES (?, ?)');
  put.run('schema_version', schemaVersion);
  put.run('compact_revision', 0);
  put.run('compact_scan', 0);
}
