/**
 * Clean-up whose failure is not the caller's problem (removing a temporary file, closing a
 * socket already closing, killing a process that may have exited) still leaves a trace: a
 * failure nobody sees is a failure nobody fixes (STYLE.md). `bestEffort` awaits nothing of
 * the caller's, never rejects, and logs a failure at debug with what was being done.
 */
import { describeError } from './errors.js';
import type { Logger } from './log.js';

/**
 * Runs `work` (a promise, or a function returning one) and logs its failure at debug as
 * `what`. Resolves to the result, or undefined when it failed. Never rejects.
 */
export async function bestEffort<T>(
  log: Logger,
  what: string,
  work: Promise<T> | (() => Promise<T> | T),
): Promise<T | undefined> {
  try {
    return await (typeof work === 'function' ? work() : work);
  } catch (err) {
    log.debug('Best-effort step failed', { what, error: describeError(err) });
    return undefined;
  }
}

/** `bestEffort` for a synchronous step. */
export function bestEffortSync<T>(log: Logger, what: string, work: () => T): T | undefined {
  try {
    return work();
  } catch (err) {
    log.debug('Best-effort step failed', { what, error: describeError(err) });
    return undefined;
  }
}
