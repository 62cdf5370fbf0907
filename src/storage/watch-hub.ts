/**
 * In-process watch fan-out for the backends that own their log (memory, sqlite).
 *
 * A watch is in one of two modes. Catching up: it reads its events from the store's history,
 * one bounded page at a time and only when its consumer has drained the previous page, so a
 * watch from far back costs no more memory than a live one. Live: the store publishes each
 * commit to it synchronously, right after the commit and before any other code runs, so the
 * switch from catching up to live (made in the same synchronous step that read the last
 * page) can neither miss nor repeat an event. Events reach every watch in revision order.
 */
import { badRequest, type Clock, type Logger, type TimerHandle } from '../lib/index.js';
import type { WatchEvent, WatchOptions, WatchStream } from './key-value-store.js';
import { compactedError, hasPrefix, validatePrefix, validateRevision } from './key-range.js';
import { WatchQueue, type WatchQueueLimits } from './watch-queue.js';

/** What the hub needs from the store: its revisions and a synchronous read of its history. */
export interface WatchHistory {
  currentRevision(): number;
  compactedRevision(): number;
  /**
   * Events under `prefix` with `afterRevision < revision <= throughRevision`, ascending, at
   * most `limit` of them, each with its previous state for updates and deletes.
   */
  readEvents(prefix: string, afterRevision: number, throughRevision: number, limit: number): WatchEvent[];
}

export interface WatchHubOptions {
  readonly clock: Clock;
  readonly log: Logger;
  readonly limits: WatchQueueLimits;
  /** Events read from history per step while catching up. */
  readonly pageSize?: number;
  /** Revisions scanned per step while catching up (bounds the work of one step). */
  readonly scanWindow?: number;
}

interface HubWatcher {
  readonly prefix: string;
  readonly queue: WatchQueue;
  /** Every event with revision <= cursor has been queued (or did not match). */
  cursor: number;
  isLive: boolean;
  /** An event was queued since the last progress tick. */
  isBusy: boolean;
  progressTimer: TimerHandle | undefined;
}

export class WatchHub {
  readonly #history: WatchHistory;
  readonly #options: WatchHubOptions;
  readonly #watchers = new Set<HubWatcher>();
  #closedError: Error | undefined;

  constructor(history: WatchHistory, options: WatchHubOptions) {
    this.#history = history;
    this.#options = options;
  }

  /** Number of open watches (for tests and metrics). */
  get size(): number {
    return this.#watchers.size;
  }

  watch(prefix: string, options: WatchOptions = {}): WatchStream {
    const queue = new WatchQueue(this.#options.limits, `"${prefix}"`);
    try {
      validatePrefix(prefix);
      if (options.fromRevision !== undefined) validateRevision(options.fromRevision, 'watch revision');
      if (options.progressIntervalMs !== undefined && !(options.progressIntervalMs > 0)) {
        throw badRequest('Invalid progressIntervalMs: it must be a positive number of milliseconds');
      }
    } catch (err) {
      queue.fail(err as Error);
      return queue;
    }
    if (this.#closedError) {
      queue.fail(this.#closedError);
      return queue;
    }
    const current = this.#history.currentRevision();
    const from = options.fromRevision ?? current;
    const compacted = this.#history.compactedRevision();
    if (from < compacted) {
      queue.fail(compactedError(from, compacted));
      return queue;
    }
    const w: HubWatcher = {
      prefix,
      queue,
      cursor: from,
      isLive: from >= current,
      isBusy: false,
      progressTimer: undefined,
    };
    this.#watchers.add(w);
    queue.setOnFinish(() => {
      this.#watchers.delete(w);
      w.progressTimer?.cancel();
      w.progressTimer = undefined;
    });
    if (!w.isLive) queue.setOnEmpty(() => this.#catchUp(w));
    if (options.signal) {
      const signal = options.signal;
      if (signal.aborted) {
        queue.end();
        return queue;
      }
      const onAbort = (): void => queue.end();
      signal.addEventListener('abort', onAbort, { once: true });
      const finish = (): void => {
        this.#watchers.delete(w);
        w.progressTimer?.cancel();
        w.progressTimer = undefined;
        signal.removeEventListener('abort', onAbort);
      };
      queue.setOnFinish(finish);
    }
    if (options.progressIntervalMs !== undefined) this.#scheduleProgress(w, options.progressIntervalMs);
    return queue;
  }

  /** Hands committed events (ascending revisions) to the live watches. Call right after commit. */
  publish(events: readonly WatchEvent[]): void {
    if (events.length === 0) return;
    for (const w of this.#watchers) {
      if (!w.isLive) continue;
      for (const e of events) {
        if (e.revision <= w.cursor) continue;
        w.cursor = e.revision;
        if (!hasPrefix(e.kv.key, w.prefix)) continue;
        w.isBusy = true;
        if (!w.queue.push(e)) break; // overflowed: the queue failed and unregistered itself
      }
    }
  }

  /** Ends every watch with `error` (store closing); later watches fail with it too. */
  closeAll(error: Error): void {
    this.#closedError = error;
    for (const w of [...this.#watchers]) w.queue.fail(error);
    this.#watchers.clear();
  }

  /** Ends every watch whose position fell below a new compacted revision. */
  onCompacted(compacted: number): void {
    for (const w of [...this.#watchers]) {
      if (!w.isLive && w.cursor < compacted) w.queue.fail(compactedError(w.cursor, compacted));
    }
  }

  async #catchUp(w: HubWatcher): Promise<void> {
    const pageSize = this.#options.pageSize ?? 256;
    const scanWindow = this.#options.scanWindow ?? 10_000;
    while (!w.isLive && w.queue.isOpen && w.queue.length === 0) {
      const compacted = this.#history.compactedRevision();
      if (w.cursor < compacted) throw compactedError(w.cursor, compacted);
      const current = this.#history.currentRevision();
      const through = Math.min(current, w.cursor + scanWindow);
      const events = this.#history.readEvents(w.prefix, w.cursor, through, pageSize);
      for (const e of events) w.queue.push(e);
      const last = events[events.length - 1];
      w.cursor = events.length >= pageSize && last ? last.revision : through;
      if (w.cursor >= current) {
        // Same synchronous step as the read: every later commit is published to this watch.
        w.isLive = true;
        w.queue.setOnEmpty(undefined);
      } else if (events.length === 0) {
        // A long stretch of history with nothing for this prefix: let other work run.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
  }

  #scheduleProgress(w: HubWatcher, intervalMs: number): void {
    w.progressTimer = this.#options.clock.setTimeout(() => {
      if (!w.queue.isOpen) return;
      if (w.isLive && !w.isBusy) {
        // Live and idle: every event up to the current revision has been queued already.
        w.cursor = Math.max(w.cursor, this.#history.currentRevision());
        w.queue.push({ type: 'progress', revision: w.cursor });
      }
      w.isBusy = false;
      this.#scheduleProgress(w, intervalMs);
    }, intervalMs);
  }
}
