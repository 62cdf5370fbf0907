/**
 * Periodic compaction with a retention window, run by every backend.
 *
 * Each tick samples (time, current revision). The target is the newest revision that is both
 * at least `keepRevisions` behind the head and at least `keepMs` old (known from the samples),
 * so a client that lost its watch a few minutes ago can still resume instead of relisting.
 * This is what the Kubernetes apiserver does against etcd (compact every 5 minutes to the
 * revision seen 5 minutes earlier) with a revision floor as kine keeps.
 */
import { type Clock, describeError, type Logger, type TimerHandle } from '../lib/index.js';
import type { CompactionWindow } from './store-url.js';

export interface CompactionTarget {
  currentRevision(): Promise<number>;
  compactedRevision(): Promise<number>;
  compact(revision: number): Promise<void>;
}

interface Sample {
  readonly atMs: number;
  readonly revision: number;
}

export class CompactionScheduler {
  readonly #target: CompactionTarget;
  readonly #window: CompactionWindow;
  readonly #clock: Clock;
  readonly #log: Logger;
  #samples: Sample[] = [];
  #timer: TimerHandle | undefined;
  #running: Promise<void> | undefined;
  #isStopped = false;

  constructor(target: CompactionTarget, window: CompactionWindow, deps: { clock: Clock; log: Logger }) {
    this.#target = target;
    this.#window = window;
    this.#clock = deps.clock;
    this.#log = deps.log;
  }

  /** Starts the periodic ticks (no-op when the interval is 0). */
  start(): void {
    if (this.#window.intervalMs <= 0 || this.#isStopped) return;
    this.#schedule();
  }

  /** Stops ticking and waits for a compaction in progress. */
  async stop(): Promise<void> {
    this.#isStopped = true;
    this.#timer?.cancel();
    this.#timer = undefined;
    await this.#running;
  }

  /**
   * One tick: records a sample and compacts to the window's target if it moved.
   * Returns the revision compacted to, or undefined when nothing was compacted.
   */
  async tick(): Promise<number | undefined> {
    const now = this.#clock.now();
    const current = await this.#target.currentRevision();
    this.#samples.push({ atMs: now, revision: current });
    // Keep only the newest sample that is already old enough, and the ones after it.
    const cutoff = now - this.#window.keepMs;
    let oldEnough = -1;
    for (let i = 0; i < this.#samples.length; i++) {
      if ((this.#samples[i] as Sample).atMs <= cutoff) oldEnough = i;
    }
    if (oldEnough > 0) this.#samples = this.#samples.slice(oldEnough);
    const byTime = oldEnough >= 0 ? (this.#samples[0] as Sample).revision : 0;
    const byCount = current - this.#window.keepRevisions;
    const target = Math.min(byTime, byCount);
    if (target <= 0) return undefined;
    const compacted = await this.#target.compactedRevision();
    if (target <= compacted) return undefined;
    const started = this.#clock.monotonicMs();
    await this.#target.compact(target);
    this.#log.info('Compacted store history', {
      revision: target,
      currentRevision: current,
      durationMs: Math.round(this.#clock.monotonicMs() - started),
    });
    return target;
  }

  #schedule(): void {
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#running = this.tick()
        .then(() => undefined)
        .catch((err: unknown) => {
          this.#log.warn('Cannot compact store history', { error: describeError(err) });
        })
        .finally(() => {
          this.#running = undefined;
          if (!this.#isStopped) this.#schedule();
        });
    }, this.#window.intervalMs);
  }
}
