/**
 * `memory://`: the KeyValueStore in process memory, for unit tests of the layers above.
 *
 * It keeps the same MVCC model as the durable backends (per-key version history, a global
 * revision, compaction, watch history) and passes the same conformance suite, so code that
 * works against it works against sqlite and etcd. Nothing survives `close()`.
 */
import { type Clock, type Logger, notFound, timeout, unavailable } from '../../lib/index.js';
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
  compareKeys,
  hasPrefix,
  validateKey,
  validatePrefix,
  validateRevision,
  validateStartKey,
  validateValue,
} from '../key-range.js';
import type { CommonStoreOptions } from '../store-url.js';
import { WatchHub } from '../watch-hub.js';

interface Version {
  readonly revision: number;
  readonly createRevision: number;
  readonly isDeleted: boolean;
  readonly value: Uint8Array;
}

const empty = new Uint8Array(0);

export class MemoryStore implements KeyValueStore {
  readonly #options: CommonStoreOptions;
  /** Per key: its versions in ascending revision order (tombstones included). */
  readonly #versions = new Map<string, Version[]>();
  /** Every event above the compacted revision, ascending. */
  #events: WatchEvent[] = [];
  // An empty store is at revision 1, as etcd is, so no list ever carries resourceVersion "0"
  // (which Kubernetes clients read as "any version").
  #revision = 1;
  #compacted = 0;
  #isClosed = false;
  readonly #hub: WatchHub;
  readonly #scheduler: CompactionScheduler;

  constructor(options: CommonStoreOptions, deps: { log: Logger; clock: Clock }) {
    this.#options = options;
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
  }

  get(key: string, options?: { revision?: number }): Promise<KeyValue> {
    return this.find(key, options).then((kv) => {
      if (!kv) throw notFoundKey(key);
      return kv;
    });
  }

  async find(key: string, options?: { revision?: number }): Promise<KeyValue | undefined> {
    this.#checkOpen();
    validateKey(key);
    const rev = this.#readRevision(options?.revision);
    return this.#stateAt(key, rev);
  }

  async list(prefix: string, options: ListOptions = {}): Promise<ListResult> {
    this.#checkOpen();
    validatePrefix(prefix);
    const rev = this.#readRevision(options.revision);
    const limit = options.limit ?? 0;
    validateRevision(limit, 'limit');
    const start = options.startKey ?? prefix;
    if (options.startKey !== undefined) validateStartKey(start, prefix);
    const keys = [...this.#versions.keys()]
      .filter((k) => hasPrefix(k, prefix) && compareKeys(k, start) >= 0)
      .sort(compareKeys);
    const items: KeyValue[] = [];
    let count = 0;
    for (const k of keys) {
      const kv = this.#stateAt(k, rev);
      if (!kv) continue;
      count++;
      if (!options.countOnly && (limit === 0 || items.length < limit)) items.push(kv);
    }
    return { items, revision: rev, more: limit > 0 && count > items.length && !options.countOnly, count };
  }

  async create(key: string, value: Uint8Array): Promise<WriteResult> {
    this.#checkOpen();
    validateKey(key);
    validateValue(key, value, this.#options.maxValueBytes);
    const cur = this.#latest(key);
    if (cur) return { ok: false, reason: 'exists', current: cur, revision: this.#revision };
    const rev = ++this.#revision;
    const version: Version = { revision: rev, createRevision: rev, isDeleted: false, value: value.slice() };
    this.#append(key, version);
    const kv = toKeyValue(key, version);
    this.#commit({ type: 'put', kv, revision: rev });
    return { ok: true, revision: rev, kv };
  }

  async update(key: string, value: Uint8Array, expectedRevision: number): Promise<WriteResult> {
    this.#checkOpen();
    validateKey(key);
    validateValue(key, value, this.#options.maxValueBytes);
    validateRevision(expectedRevision, 'expected revision');
    const prev = this.#latest(key);
    if (!prev) return { ok: false, reason: 'notFound', revision: this.#revision };
    if (expectedRevision !== 0 && prev.modRevision !== expectedRevision) {
      return { ok: false, reason: 'conflict', current: prev, revision: this.#revision };
    }
    const rev = ++this.#revision;
    const version: Version = {
      revision: rev,
      createRevision: prev.createRevision,
      isDeleted: false,
      value: value.slice(),
    };
    this.#append(key, version);
    const kv = toKeyValue(key, version);
    this.#commit({ type: 'put', kv, prev, revision: rev });
    return { ok: true, revision: rev, kv, prev };
  }

  async delete(key: string, expectedRevision: number): Promise<WriteResult> {
    this.#checkOpen();
    validateKey(key);
    validateRevision(expectedRevision, 'expected revision');
    const prev = this.#latest(key);
    if (!prev) return { ok: false, reason: 'notFound', revision: this.#revision };
    if (expectedRevision !== 0 && prev.modRevision !== expectedRevision) {
      return { ok: false, reason: 'conflict', current: prev, revision: this.#revision };
    }
    const rev = ++this.#revision;
    const version: Version = { revision: rev, createRevision: 0, isDeleted: true, value: empty };
    this.#append(key, version);
    const kv = toKeyValue(key, version);
    this.#commit({ type: 'delete', kv, prev, revision: rev });
    return { ok: true, revision: rev, kv, prev };
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
    for (const [key, versions] of this.#versions) {
      // Keep the version visible at `revision` (unless it is a tombstone) and all later ones.
      let keepFrom = 0;
      for (let i = 0; i < versions.length; i++) {
        if ((versions[i] as Version).revision <= revision) keepFrom = i;
      }
      const visible = versions[keepFrom] as Version;
      if (visible.revision <= revision && visible.isDeleted) keepFrom++;
      const kept = versions.slice(keepFrom);
      if (kept.length === 0) this.#versions.delete(key);
      else this.#versions.set(key, kept);
    }
    this.#events = this.#events.filter((e) => e.revision > revision);
    this.#compacted = revision;
    this.#hub.onCompacted(revision);
  }

  async close(): Promise<void> {
    if (this.#isClosed) return;
    this.#isClosed = true;
    await this.#scheduler.stop();
    this.#hub.closeAll(unavailable('Watch ended: the store is closed'));
    this.#versions.clear();
    this.#events = [];
  }

  #checkOpen(): void {
    if (this.#isClosed) throw unavailable('The store is closed');
  }

  #readRevision(revision: number | undefined): number {
    if (revision === undefined || revision === 0) return this.#revision;
    validateRevision(revision, 'revision');
    checkReadRevision(revision, this.#revision, this.#compacted);
    return revision;
  }

  #latest(key: string): KeyValue | undefined {
    return this.#stateAt(key, this.#revision);
  }

  #stateAt(key: string, revision: number): KeyValue | undefined {
    const versions = this.#versions.get(key);
    if (!versions) return undefined;
    for (let i = versions.length - 1; i >= 0; i--) {
      const v = versions[i] as Version;
      if (v.revision <= revision) return v.isDeleted ? undefined : toKeyValue(key, v);
    }
    return undefined;
  }

  #append(key: string, version: Version): void {
    const versions = this.#versions.get(key);
    if (versions) versions.push(version);
    else this.#versions.set(key, [version]);
  }

  #commit(event: WatchEvent): void {
    this.#events.push(event);
    this.#hub.publish([event]);
  }

  #readEvents(prefix: string, after: number, through: number, limit: number): WatchEvent[] {
    // Events are dense from compacted+1 (one per revision), so the index is arithmetic.
    const first = this.#events[0];
    if (!first) return [];
    const out: WatchEvent[] = [];
    for (let i = Math.max(0, after + 1 - first.revision); i < this.#events.length; i++) {
      const e = this.#events[i] as WatchEvent;
      if (e.revision > through || out.length >= limit) break;
      if (hasPrefix(e.kv.key, prefix)) out.push(e);
    }
    return out;
  }
}

function toKeyValue(key: string, v: Version): KeyValue {
  // Hand out copies: a caller that changes a returned value must not change the store.
  return { key, value: v.value.slice(), createRevision: v.createRevision, modRevision: v.revision };
}

function notFoundKey(key: string) {
  return notFound(`Key "${key}" not found`);
}
