/**
 * The rate-limited work queue of a controller (client-go's workqueue, in one piece).
 *
 * Guarantees:
 * - Dedupe: a key is queued at most once; adding a key that waits already is a no-op.
 * - Exclusivity: a key handed out by `get` is not handed out again until `done`; a key added
 *   while it is being processed is queued again at `done` (so no change is lost and no key
 *   is processed by two workers at once).
 * - Per-key exponential back-off: `addRateLimited` waits `initialMs * 2^n` (capped) where n
 *   counts the key's consecutive `addRateLimited` calls since its last `forget`.
 * - Delays use the injected clock, so tests drive them with a ManualClock.
 */
import { Backoff, systemClock, type Clock, type TimerHandle } from '../lib/index.js';

export interface WorkQueueOptions {
  readonly clock?: Clock | undefined;
  /** First retry delay; default 5 ms. */
  readonly backoffInitialMs?: number | undefined;
  /** Longest retry delay; default 5 minutes. */
  readonly backoffMaxMs?: number | undefined;
}

export interface WorkQueue<K extends string = string> {
  /** Queues `key` now (deduplicated). Ignored after `shutDown`. */
  add(key: K): void;
  /** Queues `key` after `delayMs`; of several pending delays for one key the earliest wins. */
  addAfter(key: K, delayMs: number): void;
  /** Queues `key` after its next back-off delay; returns that delay. */
  addRateLimited(key: K): number;
  /** Resets the back-off of `key` (call after it was processed successfully). */
  forget(key: K): void;
  /** Consecutive rate-limited requeues of `key` since its last `forget`. */
  numRequeues(key: K): number;
  /**
   * The next key to process; waits until there is one. Resolves undefined once the queue is
   * shut down (or `signal` aborts). Every key returned must be passed to `done`.
   */
  get(signal?: AbortSignal): Promise<K | undefined>;
  /** Marks `key` processed; re-queues it if it was added meanwhile. */
  done(key: K): void;
  /** Stops handing out keys; waiting `get` calls resolve undefined; pending delays are dropped. */
  shutDown(): void;
  readonly isShuttingDown: boolean;
  /** Keys ready to be handed out. */
  readonly length: number;
  /** Keys waiting for a delay to pass. */
  readonly delayedLength: number;
  /** Keys handed out and not yet `done`. */
  readonly processingLength: number;
}

export function createWorkQueue<K extends string = string>(options: WorkQueueOptions = {}): WorkQueue<K> {
  const clock = options.clock ?? systemClock;
  const initialMs = options.backoffInitialMs ?? 5;
  const maxMs = options.backoffMaxMs ?? 300_000;
  const queue: K[] = [];
  const dirty = new Set<K>();
  const processing = new Set<K>();
  const delayed = new Map<K, { atMs: number; timer: TimerHandle }>();
  const backoffs = new Map<K, Backoff>();
  const waiters: ((key: K | undefined) => void)[] = [];
  let shuttingDown = false;

  const handOut = (): void => {
    while (waiters.length > 0 && queue.length > 0) {
      const key = queue.shift() as K;
      dirty.delete(key);
      processing.add(key);
      const waiter = waiters.shift() as (key: K | undefined) => void;
      waiter(key);
    }
  };

  const q: WorkQueue<K> = {
    add(key) {
      if (shuttingDown || dirty.has(key)) return;
      dirty.add(key);
      if (processing.has(key)) return;
      queue.push(key);
      handOut();
    },
    addAfter(key, delayMs) {
      if (shuttingDown) return;
      if (delayMs <= 0) {
        q.add(key);
        return;
      }
      const atMs = clock.monotonicMs() + delayMs;
      const pending = delayed.get(key);
      if (pending && pending.atMs <= atMs) return;
      pending?.timer.cancel();
      const timer = clock.setTimeout(() => {
        if (delayed.get(key)?.timer === timer) delayed.delete(key);
        q.add(key);
      }, delayMs);
      delayed.set(key, { atMs, timer });
    },
    addRateLimited(key) {
      let b = backoffs.get(key);
      if (!b) backoffs.set(key, (b = new Backoff({ initialMs, maxMs })));
      const delay = b.next();
      q.addAfter(key, delay);
      return delay;
    },
    forget(key) {
      backoffs.delete(key);
    },
    numRequeues: (key) => backoffs.get(key)?.failures ?? 0,
    get(signal) {
      if (shuttingDown || signal?.aborted) return Promise.resolve(undefined);
      const key = queue.shift();
      if (key !== undefined) {
        dirty.delete(key);
        processing.add(key);
        return Promise.resolve(key);
      }
      return new Promise<K | undefined>((resolve) => {
        const onAbort = (): void => {
          const i = waiters.indexOf(waiter);
          if (i >= 0) waiters.splice(i, 1);
          resolve(undefined);
        };
        const waiter = (k: K | undefined): void => {
          signal?.removeEventListener('abort', onAbort);
          resolve(k);
        };
        waiters.push(waiter);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },
    done(key) {
      processing.delete(key);
      if (dirty.has(key) && !shuttingDown) {
        queue.push(key);
        handOut();
      }
    },
    shutDown() {
      if (shuttingDown) return;
      shuttingDown = true;
      for (const { timer } of delayed.values()) timer.cancel();
      delayed.clear();
      for (const w of waiters.splice(0)) w(undefined);
    },
    get isShuttingDown() {
      return shuttingDown;
    },
    get length() {
      return queue.length;
    },
    get delayedLength() {
      return delayed.size;
    },
    get processingLength() {
      return processing.size;
    },
  };
  return q;
}
