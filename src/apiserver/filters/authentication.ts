/**
 * Bearer-token authentication (upstream `authentication/request/bearertoken`). Tokens are
 * kept only as SHA-256 digests and compared in constant time; the token itself never reaches
 * a log line or an error message. A missing or wrong token is a 401 Status.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { unauthorized } from '../../lib/index.js';
import type { UserInfo } from './user-info.js';

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

/** Remembered verdicts (header → user) so a busy client does not pay a hash per request. */
const maxCachedVerdicts = 256;

/** Authenticates `Authorization: Bearer <token>` against a fixed set of token digests. */
export function createTokenAuthenticator(entries: readonly TokenEntry[]): Authenticator {
  const verdicts = new Map<string, UserInfo | null>();
  const verify = (token: string): UserInfo | undefined => {
    const digest = sha256(token);
    let found: UserInfo | undefined;
    // Compare against every entry so timing does not reveal which one matched.
    for (const e of entries) if (timingSafeEqual(digest, e.tokenSha256)) found = e.user;
    return found;
  };
  return {
    authenticate(req) {
      const header = req.headers.authorization;
      if (typeof header !== 'string' || header.length > 8192) return undefined;
      const cached = verdicts.get(header);
      if (cached !== undefined) return cached ?? undefined;
      const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
      const user = m ? verify(m[1] as string) : undefined;
      // Only successes are remembered: failures must not let a client fill the cache.
      if (user) {
        if (verdicts.size >= maxCachedVerdicts) verdicts.delete(verdicts.keys().next().value as string);
        verdicts.set(header, user);
      }
      return user;
    },
  };
}

/**
 * Paths anyone may read: upstream's system:public-info-viewer, and the service-account issuer
 * discovery documents (system:service-account-issuer-discovery), public keys only.
 */
export function isPublicPath(path: string): boolean {
  return (
    path === '/version' ||
    path === '/.well-known/openid-configuration' ||
    path === '/openid/v1/jwks' ||
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
