/**
 * Opens a KeyValueStore chosen by URL, as k3s/kine choose their datastore:
 *
 * - `sqlite:///abs/path/state.db[?synchronous=full|normal]` (the default; one process per file)
 * - `etcd://host:port[,host:port...]` (HA; etcd v3)
 * - `memory://` (unit tests; nothing persists)
 *
 * Every backend also takes the options in `store-url.ts` (watch queue limits, value size limit,
 * compaction window). Backends are loaded on demand, so a process that uses sqlite never loads
 * the gRPC stack of the etcd client, and the reverse.
 */
import { badRequest, type Clock, type Logger, systemClock } from '../lib/index.js';
import type { KeyValueStore } from './key-value-store.js';
import { parseStoreUrl, rejectUnknownOptions, takeCommonOptions } from './store-url.js';

export interface OpenKeyValueStoreDeps {
  readonly log: Logger;
  /** Drives compaction ticks and watch progress notifications; the system clock by default. */
  readonly clock?: Clock;
}

/**
 * Opens (and for sqlite, creates on first use) the store at `url`.
 * @throws BadRequest for a malformed URL or unknown option; InternalError for a corrupt or
 *   unreadable database file (naming the file); ServiceUnavailable when etcd cannot be reached
 *   or the sqlite file is in use by another process.
 */
export async function openKeyValueStore(url: string, deps: OpenKeyValueStoreDeps): Promise<KeyValueStore> {
  const parsed = parseStoreUrl(url);
  const clock = deps.clock ?? systemClock;
  switch (parsed.scheme) {
    case 'memory': {
      const common = takeCommonOptions(parsed);
      rejectUnknownOptions(parsed, []);
      const { MemoryStore } = await import('./memory/memory-store.js');
      return new MemoryStore(common, {
        log: deps.log.child({ component: 'store', backend: 'memory' }),
        clock,
      });
    }
    case 'sqlite': {
      const { openSqliteStore } = await import('./sqlite/sqlite-store.js');
      return openSqliteStore(parsed, {
        log: deps.log.child({ component: 'store', backend: 'sqlite' }),
        clock,
      });
    }
    case 'etcd': {
      const { openEtcdStore } = await import('./etcd/etcd-store.js');
      return openEtcdStore(parsed, { log: deps.log.child({ component: 'store', backend: 'etcd' }), clock });
    }
    default:
      throw badRequest(
        `Invalid datastore URL "${parsed.display}": unsupported scheme "${parsed.scheme}"; use sqlite://, etcd:// or memory://`,
      );
  }
}
