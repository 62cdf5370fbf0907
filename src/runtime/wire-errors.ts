/**
 * Errors on the runtime API's wire: `{ code, message, details }` with the HTTP status of the
 * code (src/lib/errors.ts). The server turns an H8sError into that body; the client turns the
 * body back into an H8sError with the same code, so `isNotFound(err)` works across the socket.
 * An InternalError hides its message and causes on the wire (they are logged by the server).
 */
import { H8sError, findH8sError, httpStatusFor, type ErrorCode, type ErrorDetails } from '../lib/index.js';

export interface ErrorBody {
  readonly code: ErrorCode;
  readonly message: string;
  readonly details?: ErrorDetails;
}

/** The body and HTTP status for any thrown value. */
export function errorBody(err: unknown): { status: number; body: ErrorBody } {
  const e = findH8sError(err);
  if (!e || e.code === 'InternalError') {
    return {
      status: 500,
      body: { code: 'InternalError', message: 'Internal error in the runtime (see its log)' },
    };
  }
  const details = Object.keys(e.details).length ? { details: e.details } : {};
  return { status: e.httpStatus, body: { code: e.code, message: e.message, ...details } };
}

/** A known error code, or InternalError for anything else. */
export function toErrorCode(value: unknown): ErrorCode {
  if (typeof value === 'string' && httpStatusFor(value as ErrorCode) !== undefined) return value as ErrorCode;
  return 'InternalError';
}

/** Rebuilds the error a server sent. `status` is used when the body is not ours. */
export function errorFromBody(status: number, body: unknown): H8sError {
  const o = (body ?? {}) as { code?: unknown; message?: unknown; details?: unknown };
  if (typeof o.code === 'string' && typeof o.message === 'string') {
    const details = o.details && typeof o.details === 'object' ? { details: o.details as ErrorDetails } : {};
    return new H8sError(toErrorCode(o.code), o.message, details);
  }
  const byStatus: Record<number, ErrorCode> = {
    400: 'BadRequest',
    403: 'Forbidden',
    404: 'NotFound',
    409: 'Conflict',
    413: 'RequestEntityTooLarge',
    422: 'Invalid',
    503: 'ServiceUnavailable',
    504: 'Timeout',
  };
  return new H8sError(byStatus[status] ?? 'InternalError', `The runtime answered HTTP ${status}`);
}
