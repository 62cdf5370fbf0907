/**
 * Errors on the runtime API's wire: `{ code, message, details }` (lib's WireError) with the
 * HTTP status of the code (src/lib/errors.ts). The server turns an H8sError into that body; the
 * client turns the body back into an H8sError with the same code, so `isNotFound(err)` works
 * across the socket. An InternalError hides its message and causes on the wire (they are logged
 * by the server).
 */
import {
  H8sError,
  errorFromWire,
  errorToWire,
  httpStatusFor,
  type ErrorCode,
  type WireError,
} from '../lib/index.js';

export type ErrorBody = WireError;

/** The body and HTTP status for any thrown value. */
export function errorBody(err: unknown): { status: number; body: ErrorBody } {
  const body = errorToWire(err, { internalMessage: 'Internal error in the runtime (see its log)' });
  return { status: httpStatusFor(body.code), body };
}

const codeByStatus: Readonly<Record<number, ErrorCode>> = {
  400: 'BadRequest',
  403: 'Forbidden',
  404: 'NotFound',
  409: 'Conflict',
  413: 'RequestEntityTooLarge',
  422: 'Invalid',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

/** Rebuilds the error a server sent. `status` is used when the body is not ours. */
export function errorFromBody(status: number, body: unknown): H8sError {
  return (
    errorFromWire(body) ??
    new H8sError(codeByStatus[status] ?? 'InternalError', `The runtime answered HTTP ${status}`)
  );
}
