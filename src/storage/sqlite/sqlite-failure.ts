/**
 * What an SQLite driver error means for the store, as the wire form of an H8sError
 * (`errorFromWire` rebuilds it). Both threads use it: the store for the errors of its own
 * connection, the writer thread for its errors before it sends them (it knows the driver's
 * code, e.g. SQLITE_FULL; the error vocabulary does not). Imports nothing at run time, since the
 * writer thread loads nothing but better-sqlite3.
 */
import type { WireError } from '../../lib/index.js';

/** What the store was doing when the driver failed. */
export type SqliteAction = 'open' | 'write';

/**
 * The H8sError, in wire form, of a driver error with code `driverCode` (undefined for errors
 * that are not the driver's) and text `detail`, naming the store file.
 */
export function sqliteFailure(
  action: SqliteAction,
  path: string,
  driverCode: unknown,
  detail: string,
): WireError {
  if (action === 'write') {
    const what = `Cannot write to store "${path}"`;
    if (driverCode === 'SQLITE_FULL')
      return { code: 'ServiceUnavailable', message: `${what}: the disk is full` };
    return { code: 'InternalError', message: `${what}: ${detail}` };
  }
  const what = `Cannot open store "${path}"`;
  switch (driverCode) {
    case 'SQLITE_BUSY':
    case 'SQLITE_LOCKED':
    case 'SQLITE_IOERR_LOCK':
      return { code: 'ServiceUnavailable', message: `${what}: the database is in use by another process` };
    case 'SQLITE_CORRUPT':
      return {
        code: 'InternalError',
        message:
          `${what}: the database is corrupt or truncated (${detail}); ` +
          'the file was left untouched: restore it from a backup',
      };
    case 'SQLITE_NOTADB':
      return { code: 'InternalError', message: `${what}: the file is not an SQLite database` };
    case 'SQLITE_CANTOPEN':
    case 'SQLITE_PERM':
    case 'SQLITE_READONLY':
      return { code: 'InternalError', message: `${what}: ${detail} (check the path and its permissions)` };
    default:
      return { code: 'InternalError', message: `${what}: ${detail}` };
  }
}
