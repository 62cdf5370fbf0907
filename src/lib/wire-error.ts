/**
 * Errors that cross a process or thread boundary (the runtime socket, worker threads, the
 * SQLite writer thread) travel as `{ code, message, details }` and become the same H8sError on
 * the other side, so `isNotFound(err)` works across every hop (STYLE.md, "Errors").
 */
import { H8sError, findH8sError, httpStatusFor, type ErrorCode, type ErrorDetails } from './errors.js';
import { isRecord } from './records.js';

export interface WireError {
  readonly code: ErrorCode;
  readonly message: string;
  readonly details?: ErrorDetails;
}

export interface ErrorToWireOptions {
  /**
   * Replace an InternalError (or a value that is not an H8sError) by this message, hiding its
   * text and causes: across a trust boundary the peer sees only that something failed, and
   * the owner logs the detail. Unset, the message of a non-H8sError is kept (between threads
   * of one process).
   */
  readonly internalMessage?: string;
}

/** Whether `value` names one of the error codes. */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && httpStatusFor(value as ErrorCode) !== undefined;
}

/** The wire form of any thrown value. */
export function errorToWire(err: unknown, options: ErrorToWireOptions = {}): WireError {
  const e = findH8sError(err);
  if (!e || e.code === 'InternalError') {
    const message =
      options.internalMessage ?? (e ? e.message : err instanceof Error ? err.message : String(err));
    return { code: 'InternalError', message };
  }
  return Object.keys(e.details).length
    ? { code: e.code, message: e.message, details: e.details }
    : { code: e.code, message: e.message };
}

/**
 * Rebuilds the error of a wire body, or undefined when `value` is not one (the caller then
 * falls back on what it knows, an HTTP status for one). An unknown code becomes InternalError.
 */
export function errorFromWire(value: unknown): H8sError | undefined {
  if (!isRecord(value) || typeof value['message'] !== 'string') return undefined;
  const code = isErrorCode(value['code']) ? value['code'] : 'InternalError';
  const details = value['details'];
  return new H8sError(code, value['message'], isRecord(details) ? { details: details as ErrorDetails } : {});
}
