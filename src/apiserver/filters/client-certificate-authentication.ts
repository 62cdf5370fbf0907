/**
 * Client-certificate authentication (upstream `authentication/request/x509`): a request on a
 * TLS connection whose client certificate chains to the cluster CA (the server verifies it
 * during the handshake: `requestCert` with the CA, `rejectUnauthorized: false`, so clients
 * without a certificate still reach the bearer-token authenticators) is the user of the
 * certificate's subject: CN the name, each O a group.
 *
 * Only certificates meant for clients count: one whose extended key usage leaves out
 * clientAuth (a node's serving certificate) authenticates nobody.
 */
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Authenticator } from './authentication.js';
import type { UserInfo } from './user-info.js';

const clientAuthOid = '1.3.6.1.5.5.7.3.2';

/**
 * Verdicts per connection: the handshake fixes the certificate for the socket's life, but a
 * keep-alive connection may outlive it, so its end is checked on every request.
 */
const verdicts = new WeakMap<object, { readonly user: UserInfo; readonly validToMs: number } | null>();

function userOfSocket(socket: TLSSocket): { readonly user: UserInfo; readonly validToMs: number } | null {
  // `authorized` is true only when the chain verified against the server's `ca` (and is valid now).
  if (!socket.authorized) return null;
  const cert = socket.getPeerCertificate();
  if (!cert || typeof cert !== 'object' || !cert.subject) return null;
  const usages = (cert as { ext_key_usage?: string[] }).ext_key_usage;
  if (usages !== undefined && !usages.includes(clientAuthOid)) return null;
  const cn = cert.subject.CN;
  const name = Array.isArray(cn) ? cn[0] : cn;
  if (typeof name !== 'string' || name === '') return null;
  const o = (cert.subject as { O?: string | string[] }).O;
  const organizations = o === undefined ? [] : Array.isArray(o) ? o : [o];
  return {
    user: { name, groups: [...organizations, 'system:authenticated'] },
    validToMs: Date.parse(cert.valid_to),
  };
}

/** Authenticates requests by the verified client certificate of their TLS connection. */
export function createClientCertificateAuthenticator(): Authenticator {
  return {
    authenticate(req: IncomingMessage) {
      const socket = req.socket as TLSSocket;
      if (typeof socket.getPeerCertificate !== 'function') return undefined;
      let verdict = verdicts.get(socket);
      if (verdict === undefined) {
        verdict = userOfSocket(socket);
        verdicts.set(socket, verdict);
      }
      if (verdict === null || !(verdict.validToMs > Date.now())) return undefined;
      return verdict.user;
    },
  };
}

/** The first authenticator's user that answers (upstream's union authenticator). */
export function unionAuthenticator(authenticators: readonly Authenticator[]): Authenticator {
  return {
    authenticate(req) {
      for (const a of authenticators) {
        const user = a.authenticate(req);
        if (user) return user;
      }
      return undefined;
    },
  };
}
