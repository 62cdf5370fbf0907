/**
 * The scheduling queue (upstream's PriorityQueue): pods wait in one of three places.
 *
 * - active: ready to try, highest priority first, then oldest;
 * - backoff: failed recently, ready again after 1 s doubling to 10 s per attempt;
 * - unschedulable: fit nowhere; they move back (through backoff) when the cluster changes in
 *   a way that may help (a node added or changed, a pod deleted), or after 5 minutes anyway.
 *
 * A pod is in at most one place. Time comes from the injected clock.
 */
import type { Pod } from '../api/index.js';
import type { Clock, TimerHandle } from '../lib/index.js';

export interface QueuedPod {
  readonly key: string;
  pod: Pod;
  priority: number;
  /** When it first entered the queue (ms); orders pods of one priority. */
  readonly enqueuedMs: number;
  attempts: number;
  backoffUntilMs: number;
  unschedulableSinceMs: number;
}

export interface SchedulingQueueOptions {
  readonly clock: Clock;
  readonly initialBackoffMs?: number | undefined;
  readonly maxBackoffMs?: number | undefined;
  readonly maxUnschedulableMs?: number | undefined;
}

type Place = 'active' | 'backoff' | 'unschedulable' | 'inFlight';

function before(a: QueuedPod, b: QueuedPod): boolean {
  return a.priority !== b.priority ? a.priority > b.priority : a.enqueuedMs < b.enqueuedMs;
}

/** A binary heap of queued pods with removal by key. */
class PodHeap {
  readonly #items: QueuedPod[] = [];
  readonly #index = new Map<string, number>();

  get size(): number {
    return this.#items.length;
  }

  push(p: QueuedPod): void {
    this.#items.push(p);
    this.#index.set(p.key, this.#items.length - 1);
    this.#up(this.#items.length - 1);
  }

  pop(): QueuedPod | undefined {
    const top = this.#items[0];
    if (top) this.remove(top.key);
    return top;
  }

  remove(key: string): void {
    const i = this.#index.get(key);
    if (i === undefined) return;
    const last = this.#items.pop() as QueuedPod;
    this.#index.delete(key);
    if (i < this.#items.length) {
      this.#items[i] = last;
      this.#index.set(last.key, i);
      this.#down(i);
      this.#up(i);
    }
  }

  #swap(i: number, j: number): void {
    const a = this.#items[i] as QueuedPod;
    const b = this.#items[j] as QueuedPod;
    this.#items[i] = b;
    this.#items[j] = a;
    this.#index.set(b.key, i);
    this.#index.set(a.key, j);
  }

  #up(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(this.#items[i] as QueuedPod, this.#items[parent] as QueuedPod)) return;
      this.#swap(i, parent);
      i = parent;
    }
  }

  #down(i: number): void {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let best = i;
      if (l < this.#items.length && before(this.#items[l] as QueuedPod, this.#items[best] as QueuedPod))
        best = l;
      if (r < this.#items.length && before(this.#items[r] as QueuedPod, this.#items[best] as QueuedPod))
        best = r;
      if (best === i) return;
      this.#swap(i, best);
      i = best;
    }
  }
}

export class SchedulingQueue {
  readonly #o: { clock: Clock; initialBackoffMs: number; maxBackoffMs: number; maxUnschedulableMs: number };
  readonly #pods = new Map<string, { item: QueuedPod; place: Place }>();
  readonly #active = new PodHeap();
  #waiter: (() => void) | undefined;
  #timer: TimerHandle | undefined;
  /** Set when an event arrives while a pod is being scheduled: retry it at once if it fails. */
  readonly #movedDuringCycle = new Set<string>();

  constructor(options: SchedulingQueueOptions) {
    this.#o = {
      clock: options.clock,
      initialBackoffMs: options.initialBackoffMs ?? 1000,
      maxBackoffMs: options.maxBackoffMs ?? 10_000,
      maxUnschedulableMs: options.maxUnschedulableMs ?? 300_000,
    };
  }

  get size(): number {
    return this.#pods.size;
  }

  counts(): Record<Place, number> {
    const c: Record<Place, number> = { active: 0, backoff: 0, unschedulable: 0, inFlight: 0 };
    for (const { place } of this.#pods.values()) c[place]++;
    return c;
  }

  /** A pod that needs scheduling (new, or changed while waiting). */
  add(key: string, pod: Pod, priority: number): void {
    const entry = this.#pods.get(key);
    if (!entry) {
      const item: QueuedPod = {
        key,
        pod,
        priority,
        enqueuedMs: this.#o.clock.now(),
        attempts: 0,
        backoffUntilMs: 0,
        unschedulableSinceMs: 0,
      };
      this.#pods.set(key, { item, place: 'active' });
      this.#active.push(item);
      this.#wake();
      return;
    }
    const { item, place } = entry;
    item.pod = pod;
    if (place === 'active' && item.priority !== priority) {
      this.#active.remove(key);
      item.priority = priority;
      this.#active.push(item);
    } else item.priority = priority;
    // A changed pod may fit now (upstream moves updated unschedulable pods).
    if (place === 'unschedulable') this.#toBackoffOrActive(entry);
  }

  delete(key: string): void {
    const entry = this.#pods.get(key);
    if (!entry) return;
    if (entry.place === 'active') this.#active.remove(key);
    this.#pods.delete(key);
    this.#movedDuringCycle.delete(key);
  }

  /** The next pod to schedule; waits until there is one. Rejects when `signal` aborts. */
  async pop(signal: AbortSignal): Promise<QueuedPod> {
    for (;;) {
      signal.throwIfAborted();
      this.#flush();
      const item = this.#active.pop();
      if (item) {
        const entry = this.#pods.get(item.key);
        if (entry) entry.place = 'inFlight';
        item.attempts++;
        return item;
      }
      await new Promise<void>((resolve) => {
        const onAbort = (): void => resolve();
        signal.addEventListener('abort', onAbort, { once: true });
        this.#waiter = () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        };
        this.#arm();
      });
      this.#waiter = undefined;
    }
  }

  /** The pod was scheduled (or dropped): forget it. */
  done(key: string): void {
    this.delete(key);
  }

  /** The pod fit nowhere: park it until the cluster changes. */
  unschedulable(key: string): void {
    const entry = this.#pods.get(key);
    if (!entry) return;
    entry.item.unschedulableSinceMs = this.#o.clock.now();
    if (this.#movedDuringCycle.delete(key)) this.#toBackoffOrActive(entry);
    else entry.place = 'unschedulable';
    this.#arm();
  }

  /** An error unrelated to fit (e.g. a failed binding): retry after back-off. */
  retryLater(key: string): void {
    const entry = this.#pods.get(key);
    if (!entry) return;
    this.#movedDuringCycle.delete(key);
    this.#toBackoffOrActive(entry);
  }

  /** The cluster changed in a way that may let parked pods fit. */
  moveAllUnschedulable(): void {
    for (const entry of this.#pods.values()) {
      if (entry.place === 'unschedulable') this.#toBackoffOrActive(entry);
      else if (entry.place === 'inFlight') this.#movedDuringCycle.add(entry.item.key);
    }
  }

  close(): void {
    if (this.#timer) this.#timer.cancel();
    this.#timer = undefined;
  }

  #backoffMs(attempts: number): number {
    return Math.min(this.#o.maxBackoffMs, this.#o.initialBackoffMs * 2 ** Math.max(0, attempts - 1));
  }

  #toBackoffOrActive(entry: { item: QueuedPod; place: Place }): void {
    entry.item.backoffUntilMs =
      this.#o.clock.now() + (entry.item.attempts > 0 ? this.#backoffMs(entry.item.attempts) : 0);
    if (entry.item.backoffUntilMs <= this.#o.clock.now()) {
      entry.place = 'active';
      this.#active.push(entry.item);
      this.#wake();
    } else {
      entry.place = 'backoff';
      this.#arm();
    }
  }

  /** Moves pods whose back-off ended, and pods parked too long, to active. */
  #flush(): void {
    const now = this.#o.clock.now();
    for (const entry of this.#pods.values()) {
      if (entry.place === 'backoff' && entry.item.backoffUntilMs <= now) {
        entry.place = 'active';
        this.#active.push(entry.item);
      } else if (
        entry.place === 'unschedulable' &&
        now - entry.item.unschedulableSinceMs >= this.#o.maxUnschedulableMs
      ) {
        this.#toBackoffOrActive(entry);
      }
    }
  }

  /** Wakes `pop` at the earliest time something becomes ready. */
  #arm(): void {
    if (!this.#waiter) return;
    let next = Infinity;
    for (const { item, place } of this.#pods.values()) {
      if (place === 'backoff') next = Math.min(next, item.backoffUntilMs);
      else if (place === 'unschedulable')
        next = Math.min(next, item.unschedulableSinceMs + this.#o.maxUnschedulableMs);
    }
    if (this.#timer) this.#timer.cancel();
    this.#timer = undefined;
    if (next === Infinity) return;
    const delay = Math.max(0, next - this.#o.clock.now());
    this.#timer = this.#o.clock.setTimeout(() => {
      this.#timer = undefined;
      this.#wake();
    }, delay);
  }

  #wake(): void {
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.();
  }
}
