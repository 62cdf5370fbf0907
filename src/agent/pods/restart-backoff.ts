/**
 * CrashLoopBackOff: a container that exits is restarted after 10 s, then 20 s, 40 s, ... up to
 * 5 minutes; a container that ran for 10 minutes before exiting starts again from 10 s (the
 * kubelet's defaults). The delay counts from the container's exit, so a restarted agent that
 * lost this map restarts an exited container at most once early, then backs off again.
 */
export interface RestartBackoffOptions {
  readonly initialMs?: number;
  readonly maxMs?: number;
  /** Running this long resets the back-off. */
  readonly resetAfterMs?: number;
}

export class RestartBackoff {
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #resetAfterMs: number;
  /** key → the delay that applies to the next restart, and the exit it was computed for */
  readonly #entries = new Map<string, { delayMs: number; forExitMs: number }>();

  constructor(options: RestartBackoffOptions = {}) {
    this.#initialMs = options.initialMs ?? 10_000;
    this.#maxMs = options.maxMs ?? 300_000;
    this.#resetAfterMs = options.resetAfterMs ?? 600_000;
  }

  /**
   * Milliseconds until the container may restart, for an exit at `finishedAtMs` after running
   * since `startedAtMs`. The first call for a new exit advances the back-off.
   */
  delayMs(key: string, startedAtMs: number, finishedAtMs: number, nowMs: number): number {
    let e = this.#entries.get(key);
    if (!e || e.forExitMs !== finishedAtMs) {
      const ranLong = startedAtMs > 0 && finishedAtMs - startedAtMs >= this.#resetAfterMs;
      const delayMs = !e || ranLong ? this.#initialMs : Math.min(this.#maxMs, e.delayMs * 2);
      e = { delayMs, forExitMs: finishedAtMs };
      this.#entries.set(key, e);
    }
    return Math.max(0, finishedAtMs + e.delayMs - nowMs);
  }

  /** Forgets a container (its pod is gone). */
  forget(keyPrefix: string): void {
    for (const k of this.#entries.keys()) if (k.startsWith(keyPrefix)) this.#entries.delete(k);
  }
}
