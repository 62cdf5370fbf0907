/**
 * Bearer-token authentication (upstream `authentication/request/bearertoken`). Tokens are
 * kept only as SHA-256 digests and compared in constant time; the token itself never reaches
 * a log line or an error message. A missing or wrong token is a 401 Status.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { unauthorized } from '../../lib/index.js';
import type { UserInfo } from '../endpoints/request-context.js';

export interface Authenticator {
  /** The user a request authenticates as, or undefined when it carries no valid credential. */
  authenticate(req: IncomingMessage): UserInfo | undefined;
}

export interface TokenEntry {
  /** SHA-256 of the token. */
  readonly tokenSha256: Buffer;
  readonly user: UserInfo;
}

export function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** Authenticates `Authorization: Bearer <token>` against a fixed set of token digests. */
export function createTokenAuthenticator(entries: readonly TokenEntry[]): Authenticator {
  return {
    authenticate(req) {
      const header = req.headers.authorization;
      if (typeof header !== 'string') return undefined;
      const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
      if (!m) return undefined;
      const digest = sha256(m[1] as string);
      let found: UserInfo | undefined;
      // Compare against every entry so timing does not reveal which one matched.
      for (const e of entries) if (timingSafeEqual(digest, e.tokenSha256)) found = e.user;
      return found;
    },
  };
}

/** Paths anyone may read (upstream's system:public-info-viewer). */
export function isPublicPath(path: string): boolean {
  return (
    path === '/version' ||
    path === '/healthz' ||
    path === '/livez' ||
    path === '/readyz' ||
    path.startsWith('/healthz/') ||
    path.startsWith('/livez/') ||
    path.startsWith('/readyz/')
  );
}

export function unauthorizedError(): Error {
  return unauthorized('Unauthorized');
}
