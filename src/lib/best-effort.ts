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

/**
 * A file-system step on a path that may legitimately be absent (a log not written yet, a
 * state file of a pod that never started): resolves to undefined when the path or one of its
 * parents does not exist, and rejects with every other failure (permissions, I/O), which a
 * blanket `.catch(() => undefined)` would hide.
 */
export async function unlessMissing<T>(work: Promise<T>): Promise<T | undefined> {
  try {
    return await work;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException | undefined)?.code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw err;
  }
}
