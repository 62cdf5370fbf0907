/**
 * The bounded queue behind every watch stream, shared by all backends.
 *
 * A producer pushes events as the store commits them; one consumer pulls them with
 * `for await`. The queue never grows past its limits: a consumer that falls that far behind
 * is ended with Gone (code Expired) and its buffered events are released at once, so a stuck
 * watcher cannot exhaust memory (it resumes by listing and watching again, as informers do).
 */
import { expired } from '../lib/index.js';
import type { WatchEvent, WatchProgress } from './key-value-store.js';

export type WatchItem = WatchEvent | WatchProgress;

export interface WatchQueueLimits {
  /** Events buffered for a consumer before it is ended with Gone. */
  readonly maxEvents: number;
  /** Bytes of keys and values buffered for a consumer before it is ended with Gone. */
  readonly maxBytes: number;
}

type QueueState =
  | { readonly phase: 'open' }
  | { readonly phase: 'ended' }
  | { readonly phase: 'failed'; readonly error: Error };

/** The size of an item for the byte limit: keys and values of the event and its previous state. */
export function watchItemBytes(item: WatchItem): number {
  if (item.type === 'progress') return 16;
  let n = 64 + item.kv.key.length + item.kv.value.byteLength;
  if (item.prev) n += item.prev.key.length + item.prev.value.byteLength;
  return n;
}

/**
 * A single-consumer async iterator over watch items. `onFinish` runs exactly once, when the
 * queue ends for any reason (consumer `return`, `end`, `fail`, overflow), so the producer can
 * unregister the watch. `onEmpty`, when set, runs before the consumer would wait on an empty
 * queue and may push items (catch-up from history).
 */
export class WatchQueue implements AsyncIterableIterator<WatchItem> {
  readonly #limits: WatchQueueLimits;
  readonly #description: string;
  #items: WatchItem[] = [];
  #head = 0;
  #bytes = 0;
  #state: QueueState = { phase: 'open' };
  #waiter: { resolve: (r: IteratorResult<WatchItem>) => void; reject: (e: unknown) => void } | undefined;
  #onFinish: (() => void) | undefined;
  #onEmpty: (() => Promise<void>) | undefined;

  constructor(limits: WatchQueueLimits, description: string, onFinish?: () => void) {
    this.#limits = limits;
    this.#description = description;
    this.#onFinish = onFinish;
  }

  /** Installs the hook that refills an empty queue from history. */
  setOnEmpty(fn: (() => Promise<void>) | undefined): void {
    this.#onEmpty = fn;
  }

  setOnFinish(fn: () => void): void {
    this.#onFinish = fn;
  }

  get isOpen(): boolean {
    return this.#state.phase === 'open';
  }

  /** Items waiting for the consumer. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /**
   * Queues an item; returns false when the queue is closed or just overflowed (in which case
   * it has been failed with Gone).
   */
  push(item: WatchItem): boolean {
    if (this.#state.phase !== 'open') return false;
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = undefined;
      w.resolve({ value: item, done: false });
      return true;
    }
    const size = watchItemBytes(item);
    if (this.length + 1 > this.#limits.maxEvents || this.#bytes + size > this.#limits.maxBytes) {
      this.fail(
        expired(
          `Watch on ${this.#description} was ended because its consumer fell behind: more than ` +
            `${this.#limits.maxEvents} events or ${this.#limits.maxBytes} bytes were waiting`,
        ),
      );
      return false;
    }
    this.#items.push(item);
    this.#bytes += size;
    return true;
  }

  /** Ends the stream normally once the queued items are consumed. */
  end(): void {
    if (this.#state.phase !== 'open') return;
    this.#state = { phase: 'ended' };
    if (this.#waiter && this.length === 0) {
      const w = this.#waiter;
      this.#waiter = undefined;
      w.resolve({ value: undefined, done: true });
    }
    this.#finish();
  }

  /** Ends the stream with an error; queued items are dropped (the consumer must resync anyway). */
  fail(error: Error): void {
    if (this.#state.phase !== 'open') return;
    this.#state = { phase: 'failed', error };
    this.#items = [];
    this.#head = 0;
    this.#bytes = 0;
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = undefined;
      w.reject(error);
      this.#state = { phase: 'ended' };
    }
    this.#finish();
  }

  async next(): Promise<IteratorResult<WatchItem>> {
    if (this.length === 0 && this.#state.phase === 'open' && this.#onEmpty) {
      try {
        await this.#onEmpty();
      } catch (err) {
        this.fail(err instanceof Error ? err : new Error(String(err)));
      }
    }
    if (this.length > 0) {
      const item = this.#items[this.#head] as WatchItem;
      this.#items[this.#head] = undefined as unknown as WatchItem;
      this.#head++;
      this.#bytes -= watchItemBytes(item);
      if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
        this.#items = this.#items.slice(this.#head);
        this.#head = 0;
      }
      return { value: item, done: false };
    }
    const state = this.#state;
    if (state.phase === 'failed') {
      // Report the error once; afterwards the iterator is simply done.
      this.#state = { phase: 'ended' };
      throw state.error;
    }
    if (state.phase === 'ended') return { value: undefined, done: true };
    if (this.#waiter) throw new Error('WatchQueue supports one consumer at a time');
    return new Promise<IteratorResult<WatchItem>>((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }

  /** Called by `for await` on break: ends the watch and releases it. */
  return(): Promise<IteratorResult<WatchItem>> {
    this.#items = [];
    this.#head = 0;
    this.#bytes = 0;
    if (this.#state.phase === 'open') {
      this.#state = { phase: 'ended' };
      this.#finish();
    } else {
      this.#state = { phase: 'ended' };
    }
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = undefined;
      w.resolve({ value: undefined, done: true });
    }
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<WatchItem> {
    return this;
  }

  #finish(): void {
    const fn = this.#onFinish;
    this.#onFinish = undefined;
    this.#onEmpty = undefined;
    fn?.();
  }
}
