/**
 * What every handler gets for one request: the raw request/response, the parsed URL, the
 * authenticated user, the request id (also in the log line), warnings to send back, and a
 * signal that aborts when the client goes away.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { UserInfo } from '../filters/user-info.js';

export interface RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly requestId: string;
  user: UserInfo | undefined;
  readonly warnings: string[];
  /** Aborts when the client closes the connection (or the server shuts down). */
  readonly signal: AbortSignal;
  /** Extra fields for the request's log line (e.g. resource, name). */
  readonly logFields: Record<string, unknown>;
}
