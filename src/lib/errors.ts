/**
 * The one error vocabulary of h8s: the Kubernetes Status reasons (STYLE.md, "Errors").
 *
 * Every layer throws `H8sError` with a `code`; callers branch on codes through the
 * predicates below (which walk `cause` chains), never on messages. Only the apiserver's
 * endpoints turn an error into HTTP + Status and only the client turns it back.
 */

/** Status reasons we use, named as Kubernetes names them on the wire. */
export type ErrorCode =
  | 'NotFound'
  | 'AlreadyExists'
  | 'Conflict'
  | 'Invalid'
  | 'BadRequest'
  | 'Unauthorized'
  | 'Forbidden'
  | 'Gone'
  | 'Expired'
  | 'TooManyRequests'
  | 'Timeout'
  | 'ServiceUnavailable'
  | 'InternalError'
  | 'MethodNotAllowed'
  | 'UnsupportedMediaType'
  | 'RequestEntityTooLarge'
  | 'NotAcceptable';

/** One field-level problem, as Kubernetes reports it in `details.causes`. */
export interface StatusCause {
  /** e.g. FieldValueRequired, FieldValueInvalid, FieldValueNotSupported, FieldValueDuplicate. */
  readonly reason: string;
  readonly message: string;
  /** Dotted field path, e.g. `spec.containers[0].image`. */
  readonly field?: string;
}

export interface ErrorDetails {
  readonly name?: string;
  readonly group?: string;
  /** Plural resource for NotFound/AlreadyExists/Conflict; Kind for Invalid (as upstream). */
  readonly kind?: string;
  readonly uid?: string;
  readonly causes?: readonly StatusCause[];
  readonly retryAfterSeconds?: number;
}

export interface H8sErrorOptions {
  readonly cause?: unknown;
  readonly details?: ErrorDetails;
}

const httpStatusByCode: Readonly<Record<ErrorCode, number>> = {
  NotFound: 404,
  AlreadyExists: 409,
  Conflict: 409,
  Invalid: 422,
  BadRequest: 400,
  Unauthorized: 401,
  Forbidden: 403,
  Gone: 410,
  Expired: 410,
  TooManyRequests: 429,
  Timeout: 504,
  ServiceUnavailable: 503,
  InternalError: 500,
  MethodNotAllowed: 405,
  UnsupportedMediaType: 415,
  RequestEntityTooLarge: 413,
  NotAcceptable: 406,
};

/** The HTTP status code Kubernetes uses for a reason. */
export function httpStatusFor(code: ErrorCode): number {
  return httpStatusByCode[code];
}

/** The single error class of h8s. */
export class H8sError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, message: string, options: H8sErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'H8sError';
    this.code = code;
    this.details = options.details ?? {};
  }

  /** HTTP status code of this error on the wire. */
  get httpStatus(): number {
    return httpStatusFor(this.code);
  }
}

function make(code: ErrorCode) {
  return (message: string, options?: H8sErrorOptions): H8sError => new H8sError(code, message, options);
}

export const notFound = make('NotFound');
export const alreadyExists = make('AlreadyExists');
export const conflict = make('Conflict');
export const invalid = make('Invalid');
export const badRequest = make('BadRequest');
export const unauthorized = make('Unauthorized');
export const forbidden = make('Forbidden');
export const gone = make('Gone');
export const expired = make('Expired');
export const tooManyRequests = make('TooManyRequests');
export const timeout = make('Timeout');
export const unavailable = make('ServiceUnavailable');
export const internal = make('InternalError');
export const methodNotAllowed = make('MethodNotAllowed');
export const unsupportedMediaType = make('UnsupportedMediaType');
export const tooLarge = make('RequestEntityTooLarge');
export const notAcceptable = make('NotAcceptable');

/** Walks `err` and its `cause` chain; returns the first H8sError, if any. */
export function findH8sError(err: unknown): H8sError | undefined {
  let cur: unknown = err;
  for (let depth = 0; depth < 32 && cur !== undefined && cur !== null; depth++) {
    if (cur instanceof H8sError) return cur;
    cur = cur instanceof Error ? cur.cause : undefined;
  }
  return undefined;
}

/** The code of the first H8sError in the cause chain, or undefined. */
export function errorCode(err: unknown): ErrorCode | undefined {
  return findH8sError(err)?.code;
}

function is(...codes: ErrorCode[]) {
  return (err: unknown): boolean => {
    const code = errorCode(err);
    return code !== undefined && codes.includes(code);
  };
}

export const isNotFound = is('NotFound');
export const isAlreadyExists = is('AlreadyExists');
export const isConflict = is('Conflict');
export const isInvalid = is('Invalid');
export const isBadRequest = is('BadRequest');
export const isUnauthorized = is('Unauthorized');
export const isForbidden = is('Forbidden');
/** Gone or Expired: the requested revision has been compacted away. */
export const isGone = is('Gone', 'Expired');
export const isTooManyRequests = is('TooManyRequests');
export const isTimeout = is('Timeout');
export const isUnavailable = is('ServiceUnavailable');
export const isInternal = is('InternalError');

/** A readable one-line message for any thrown value, including its causes. */
export function describeError(err: unknown): string {
  const parts: string[] = [];
  let cur: unknown = err;
  for (let depth = 0; depth < 8 && cur !== undefined && cur !== null; depth++) {
    parts.push(cur instanceof Error ? cur.message : String(cur));
    cur = cur instanceof Error ? cur.cause : undefined;
  }
  return parts.filter((p, i) => p !== '' && parts.indexOf(p) === i).join(': ');
}
