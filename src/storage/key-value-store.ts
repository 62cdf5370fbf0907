/**
 * The KeyValueStore contract (DESIGN.md section 3): a revisioned key-value store in the
 * shape of etcd v3 / kine. Keys and values are opaque; storage knows nothing about kinds.
 *
 * Revisions: one global counter, strictly increasing by exactly one per successful write
 * (create, update or delete). A key's `modRevision` is the revision of its last write; it
 * becomes the object's `resourceVersion` upstream. Reads at a past revision see the state
 * as it was right after that revision was written. An empty store is at revision 1 (as etcd
 * is), so no list ever reports revision 0, which Kubernetes clients read as "any"; a read
 * `revision` of 0 or absent means the current revision. etcd's store records each compaction
 * under a reserved key, which takes one revision.
 *
 * Compaction: `compact(rev)` drops history below `rev`. Afterwards any read at, or watch
 * from, a revision below the compacted revision fails with `Gone` (code `Expired`).
 *
 * Error codes (H8sError): NotFound (get of a missing key), Gone/Expired (compacted revision),
 * Timeout (revision in the future), BadRequest (bad arguments such as an empty key, a key with
 * NUL or a lone surrogate, a key over 4 KiB), RequestEntityTooLarge (a value over the store's
 * `maxValueBytes`, 8 MiB by default), ServiceUnavailable (backend unreachable, store closed,
 * sqlite file in use by another process), InternalError (corruption, bugs).
 * A lost compare-and-swap is an expected outcome and is returned as a value, not thrown.
 */

/** One key at one revision. */
export interface KeyValue {
  readonly key: string;
  readonly value: Uint8Array;
  /** Revision at which the key was (last) created. */
  readonly createRevision: number;
  /** Revision of the key's last write; the object's resourceVersion. */
  readonly modRevision: number;
}

export interface ListOptions {
  /** Read at this revision instead of the current one. Below the compacted revision: Gone. */
  readonly revision?: number;
  /** At most this many items; 0 or absent means no limit. */
  readonly limit?: number;
  /** Start at this key (inclusive); must start with the prefix. Used for paging: the key
   *  right after `k` is `k + "\0"`, so NUL is allowed here (unlike in keys). */
  readonly startKey?: string;
  /** Only count the matching keys, do not return values (items is empty). */
  readonly countOnly?: boolean;
}

export interface ListResult {
  readonly items: readonly KeyValue[];
  /** The revision the list was read at (the current revision when none was given). */
  readonly revision: number;
  /** True when more keys follow the last item (limit reached). */
  readonly more: boolean;
  /** Number of keys under the prefix at that revision starting at `startKey`, including returned ones. */
  readonly count: number;
}

/** Outcome of a create/update/delete: success with the new state, or why it did not apply. */
export type WriteResult =
  | { readonly ok: true; readonly revision: number; readonly kv: KeyValue; readonly prev?: KeyValue }
  | {
      readonly ok: false;
      /**
       * `exists`: create found a live key. `notFound`: update/delete found no live key.
       * `conflict`: the key's modRevision differs from the expected one.
       */
      readonly reason: 'exists' | 'notFound' | 'conflict';
      /** The current state of the key, when it exists. */
      readonly current?: KeyValue;
      readonly revision: number;
    };

export type WatchEventType = 'put' | 'delete';

export interface WatchEvent {
  readonly type: WatchEventType;
  /** For put: the new state (createRevision === modRevision when the key was created).
   *  For delete: key and the delete's revision in `modRevision`, with an empty value and
   *  createRevision 0 (as etcd reports tombstones). */
  readonly kv: KeyValue;
  /** The previous state for updates and deletes. */
  readonly prev?: KeyValue;
  /** Revision of this event (equals kv.modRevision). */
  readonly revision: number;
}

/** A progress notification: no events up to `revision` for this watch. */
export interface WatchProgress {
  readonly type: 'progress';
  readonly revision: number;
}

export interface WatchOptions {
  /**
   * Deliver every event with revision > `fromRevision` (like the apiserver's RV semantics);
   * omitted: only events after the current revision (etcd: after the newest revision this
   * client has seen, which covers every write that completed before the call). Below the
   * compacted window: the iterator throws Gone (code Expired) on first `next()`.
   */
  readonly fromRevision?: number;
  /** Ends the watch: the iterator returns. */
  readonly signal?: AbortSignal;
  /** Emit a progress notification when idle for this long (for bookmarks). Off when absent. */
  readonly progressIntervalMs?: number;
}

/**
 * Watch streams events in revision order with no gaps for the prefix. A consumer that
 * cannot keep up is ended with a Gone error (code Expired) rather than buffered without
 * bound; it resumes by listing and watching again.
 */
export type WatchStream = AsyncIterable<WatchEvent | WatchProgress>;

export interface KeyValueStore {
  /**
   * The state of `key` at the current revision (or at `revision`).
   * @throws NotFound when the key does not exist; Gone when `revision` was compacted.
   */
  get(key: string, options?: { revision?: number }): Promise<KeyValue>;

  /** Like `get` but returns undefined for a missing key. */
  find(key: string, options?: { revision?: number }): Promise<KeyValue | undefined>;

  /** Keys starting with `prefix`, sorted by key (byte order). */
  list(prefix: string, options?: ListOptions): Promise<ListResult>;

  /** Creates `key` if no live key exists. */
  create(key: string, value: Uint8Array): Promise<WriteResult>;

  /**
   * Replaces the value of `key` if its modRevision equals `expectedRevision`
   * (compare-and-swap). `expectedRevision` 0 means "whatever it is now".
   */
  update(key: string, value: Uint8Array, expectedRevision: number): Promise<WriteResult>;

  /** Deletes `key` if its modRevision equals `expectedRevision` (0 = unconditional). */
  delete(key: string, expectedRevision: number): Promise<WriteResult>;

  /** Events under `prefix` after `fromRevision`; see WatchOptions. */
  watch(prefix: string, options?: WatchOptions): WatchStream;

  /** The current (latest) revision. */
  currentRevision(): Promise<number>;

  /** The oldest revision still readable (everything below is compacted). */
  compactedRevision(): Promise<number>;

  /**
   * Drops history below `revision` (keeps the state at `revision` readable).
   * Compacting at or below the current compacted revision is a no-op.
   * @throws Timeout when `revision` is above the current revision.
   */
  compact(revision: number): Promise<void>;

  /**
   * Releases files, connections and watchers: queued writes are committed first, open watches
   * end with ServiceUnavailable, and further calls fail with ServiceUnavailable. Idempotent.
   */
  close(): Promise<void>;
}
