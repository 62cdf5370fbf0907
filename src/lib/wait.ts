/**
 * Waiting without sleeps (STYLE.md, "Tests"): poll a condition until it holds or a deadline passes.
 */
import { systemClock, type Clock } from './clock.js';
import { timeout } from './errors.js';

export interface WaitForOptions {
  readonly timeoutMs: number;
  /** Delay between attempts; grows to `maxIntervalMs`. Default 10 ms. */
  readonly intervalMs?: number;
  readonly maxIntervalMs?: number;
  readonly signal?: AbortSignal;
  /** Used in the Timeout error: "Timed out after 5000 ms waiting for <description>". */
  readonly description?: string;
  readonly clock?: Clock;
}

/**
 * Calls `condition` until it returns a value other than `undefined`/`false` and returns that value.
 * Errors thrown by `condition` count as "not yet"; the last one becomes the cause of the Timeout.
 * @throws Timeout after `timeoutMs`; the signal's reason when it aborts.
 */
export async function waitFor<T>(
  condition: () => T | undefined | false | Promise<T | undefined | false>,
  options: WaitForOptions,
): Promise<T> {
  const clock = options.clock ?? systemClock;
  const deadline = clock.monotonicMs() + options.timeoutMs;
  let interval = options.intervalMs ?? 10;
  const maxInterval = options.maxIntervalMs ?? 250;
  let lastError: unknown;
  for (;;) {
    options.signal?.throwIfAborted();
    try {
      const v = await condition();
      if (v !== undefined && v !== false) return v;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    const left = deadline - clock.monotonicMs();
    if (left <= 0) {
      throw timeout(
        `Timed out after ${options.timeoutMs} ms waiting for ${options.description ?? 'a condition'}`,
        lastError === undefined ? {} : { cause: lastError },
      );
    }
    await clock.sleep(Math.min(interval, left), options.signal);
    interval = Math.min(maxInterval, interval * 2);
  }
}
