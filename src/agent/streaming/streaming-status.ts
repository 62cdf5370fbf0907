/**
 * Kubernetes Status bodies as the kubelet's streaming server sends them: error replies of its
 * HTTP endpoints, and the final status of a remote command (the v4 `error` channel).
 */
import { findH8sError, httpStatusFor, type ErrorCode } from '../../lib/index.js';

export interface StreamStatus {
  readonly kind: 'Status';
  readonly apiVersion: 'v1';
  readonly metadata: Record<string, never>;
  readonly status: 'Success' | 'Failure';
  readonly message?: string;
  readonly reason?: string;
  readonly code?: number;
  readonly details?: { readonly causes: readonly { readonly reason: string; readonly message: string }[] };
}

export function successStatus(): StreamStatus {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success' };
}

/** What kubectl turns into "command terminated with exit code N" (and its own exit code N). */
export function exitCodeStatus(cmd: readonly string[], exitCode: number): StreamStatus {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: error executing command [${cmd.join(' ')}], exit code ${exitCode}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(exitCode) }] },
  };
}

/**
 * The Status of a thrown error: an H8sError keeps its code and message (they name pods and
 * containers, which the caller may see); anything else is an InternalError without details.
 */
export function errorStatus(err: unknown): StreamStatus {
  const e = findH8sError(err);
  const code: ErrorCode = e?.code ?? 'InternalError';
  const message =
    e && e.code !== 'InternalError'
      ? e.message
      : 'Internal error occurred: the node agent failed to serve the stream';
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason: code,
    code: httpStatusFor(code),
  };
}
