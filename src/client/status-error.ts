/**
 * Turning a Kubernetes Status back into an H8sError: the only place in h8s that does this
 * (STYLE.md, "Errors"). The apiserver's endpoints do the opposite.
 */
import { H8sError, isRecord, type ErrorCode, type ErrorDetails, type StatusCause } from '../lib/index.js';

const knownCodes: ReadonlySet<string> = new Set<ErrorCode>([
  'NotFound',
  'AlreadyExists',
  'Conflict',
  'Invalid',
  'BadRequest',
  'Unauthorized',
  'Forbidden',
  'Gone',
  'Expired',
  'TooManyRequests',
  'Timeout',
  'ServiceUnavailable',
  'InternalError',
  'MethodNotAllowed',
  'UnsupportedMediaType',
  'RequestEntityTooLarge',
  'NotAcceptable',
]);

/** Upstream reasons that are not in our vocabulary, mapped to the nearest code. */
const reasonAliases: Readonly<Record<string, ErrorCode>> = {
  ServerTimeout: 'Timeout',
  Unknown: 'InternalError',
};

/** The code Kubernetes would use for an HTTP status when the body names no reason. */
export function codeForHttpStatus(httpStatus: number): ErrorCode {
  switch (httpStatus) {
    case 400:
      return 'BadRequest';
    case 401:
      return 'Unauthorized';
    case 403:
      return 'Forbidden';
    case 404:
      return 'NotFound';
    case 405:
      return 'MethodNotAllowed';
    case 406:
      return 'NotAcceptable';
    case 409:
      return 'Conflict';
    case 410:
      return 'Gone';
    case 413:
      return 'RequestEntityTooLarge';
    case 415:
      return 'UnsupportedMediaType';
    case 422:
      return 'Invalid';
    case 429:
      return 'TooManyRequests';
    case 503:
      return 'ServiceUnavailable';
    case 504:
      return 'Timeout';
    default:
      return httpStatus >= 500 ? 'InternalError' : 'BadRequest';
  }
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** Whether `body` is a Status object (`kind: Status`). */
export function isStatusObject(body: unknown): body is Record<string, unknown> & { kind: 'Status' } {
  return isRecord(body) && body['kind'] === 'Status';
}

function detailsFrom(raw: unknown): ErrorDetails {
  if (!isRecord(raw)) return {};
  const causes: StatusCause[] = [];
  if (Array.isArray(raw['causes'])) {
    for (const c of raw['causes'].slice(0, 100)) {
      if (!isRecord(c)) continue;
      const field = str(c['field']);
      causes.push({
        reason: str(c['reason']) ?? '',
        message: str(c['message']) ?? '',
        ...(field !== undefined ? { field } : {}),
      });
    }
  }
  const out: {
    -readonly [K in keyof ErrorDetails]: ErrorDetails[K];
  } = {};
  const name = str(raw['name']);
  const group = str(raw['group']);
  const kind = str(raw['kind']);
  const uid = str(raw['uid']);
  if (name !== undefined) out.name = name;
  if (group !== undefined) out.group = group;
  if (kind !== undefined) out.kind = kind;
  if (uid !== undefined) out.uid = uid;
  if (causes.length > 0) out.causes = causes;
  if (typeof raw['retryAfterSeconds'] === 'number') out.retryAfterSeconds = raw['retryAfterSeconds'];
  return out;
}

/**
 * The H8sError a Status stands for: the code from `reason` when it is one of ours, else from
 * the HTTP status; the server's message, details and causes kept as they are.
 * @param httpStatus the response's status code (or the Status's `code` for watch ERROR events).
 */
export function errorFromStatus(status: unknown, httpStatus: number): H8sError {
  if (!isRecord(status)) {
    return new H8sError(codeForHttpStatus(httpStatus), `The API server answered ${httpStatus}`);
  }
  const reason = str(status['reason']);
  const statusCode = typeof status['code'] === 'number' ? status['code'] : httpStatus;
  let code: ErrorCode;
  if (reason !== undefined && knownCodes.has(reason)) code = reason as ErrorCode;
  else if (reason !== undefined && reasonAliases[reason] !== undefined) code = reasonAliases[reason];
  else code = codeForHttpStatus(statusCode || httpStatus);
  const message = str(status['message']) || `The API server answered ${statusCode} ${reason ?? ''}`.trim();
  return new H8sError(code, message, { details: detailsFrom(status['details']) });
}

/**
 * The error for a non-2xx response whose body may or may not be a Status (a proxy's HTML page,
 * an empty body).
 */
export function errorFromResponse(httpStatus: number, body: unknown, rawText: string): H8sError {
  if (isStatusObject(body)) return errorFromStatus(body, httpStatus);
  const snippet = rawText.trim().slice(0, 200);
  return new H8sError(
    codeForHttpStatus(httpStatus),
    `The API server answered ${httpStatus}${snippet ? `: ${snippet}` : ''}`,
  );
}
