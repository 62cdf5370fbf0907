/**
 * Errors become `Status` objects here and only here (STYLE.md, "Errors"): the HTTP code is the
 * reason's code, the body the upstream shape. InternalError never shows its details on the wire;
 * the request log carries them under the request id instead.
 */
import { findH8sError, httpStatusFor, type ErrorDetails } from '../../lib/index.js';

export interface StatusBody {
  readonly kind: 'Status';
  readonly apiVersion: 'v1';
  readonly metadata: Record<string, never>;
  readonly status: 'Success' | 'Failure';
  readonly message?: string;
  readonly reason?: string;
  readonly details?: Record<string, unknown>;
  readonly code: number;
}

function detailsOf(d: ErrorDetails): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  if (d.name !== undefined) out['name'] = d.name;
  if (d.group !== undefined) out['group'] = d.group;
  if (d.kind !== undefined) out['kind'] = d.kind;
  if (d.uid !== undefined) out['uid'] = d.uid;
  if (d.causes && d.causes.length > 0) out['causes'] = d.causes.map((c) => ({ ...c }));
  if (d.retryAfterSeconds !== undefined) out['retryAfterSeconds'] = d.retryAfterSeconds;
  return Object.keys(out).length > 0 ? out : undefined;
}

export interface ErrorStatus {
  readonly code: number;
  readonly body: StatusBody;
  /** True for errors whose details stay in the log (5xx other than 503/504). */
  readonly isInternal: boolean;
}

/** The Status for any thrown value. */
export function statusForError(err: unknown, requestId: string): ErrorStatus {
  const h = findH8sError(err);
  if (!h || h.code === 'InternalError') {
    return {
      code: 500,
      isInternal: true,
      body: {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: `Internal error occurred: the server could not complete the request; the server log has the details under request id "${requestId}"`,
        reason: 'InternalError',
        details: { causes: [{ reason: 'UnexpectedServerResponse', message: `request id ${requestId}` }] },
        code: 500,
      },
    };
  }
  const code = httpStatusFor(h.code);
  const details = detailsOf(h.details);
  return {
    code,
    isInternal: false,
    body: {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: h.message,
      // Our error codes are the Kubernetes reasons, spelled as on the wire.
      reason: h.code,
      ...(details ? { details } : {}),
      code,
    },
  };
}

/** A Success Status, e.g. for an immediate delete. */
export function successStatus(details: Record<string, unknown> | undefined, code = 200): StatusBody {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Success',
    ...(details ? { details } : {}),
    code,
  };
}
