/**
 * A small token server for registry token auth (the Docker token authentication spec): it
 * checks Basic credentials and answers `{token}` with a JWT signed RS256 by a key whose
 * self-signed certificate the registry trusts (`rootcertbundle`), carried in the `x5c` header.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createPrivateKey, randomBytes, sign, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFile } from '../../lib/index.js';

export interface TokenServer {
  readonly realm: string;
  readonly service: string;
  readonly issuer: string;
  readonly certPath: string;
  /** Requests answered so far (scope strings), for assertions. */
  readonly requests: { account?: string; scopes: string[]; status: number }[];
  close(): Promise<void>;
}

function b64url(b: Buffer | string): string {
  return Buffer.from(b).toString('base64url');
}

export async function startTokenServer(o: {
  dir: string;
  username: string;
  password: string;
  service: string;
  issuer: string;
}): Promise<TokenServer> {
  const keyPath = join(o.dir, 'token.key');
  const certPath = join(o.dir, 'token.crt');
  await execFile(
    [
      'openssl',
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      keyPath,
      '-out',
      certPath,
      '-days',
      '2',
      '-subj',
      '/CN=h8s-test-token-issuer',
    ],
    { timeoutMs: 30_000 },
  );
  const key = createPrivateKey(await readFile(keyPath));
  const certDer = new X509Certificate(await readFile(certPath)).raw;
  const requests: TokenServer['requests'] = [];
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://x');
    const scopes = url.searchParams.getAll('scope');
    const authz = req.headers.authorization ?? '';
    let account: string | undefined;
    if (authz.startsWith('Basic ')) {
      const [u, ...rest] = Buffer.from(authz.slice(6), 'base64').toString('utf8').split(':');
      if (u !== o.username || rest.join(':') !== o.password) {
        requests.push({ ...(u ? { account: u } : {}), scopes, status: 401 });
        res
          .writeHead(401, { 'content-type': 'application/json' })
          .end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'bad credentials' }] }));
        return;
      }
      account = u;
    }
    const now = Math.floor(Date.now() / 1000);
    // Authenticated users get what they ask for; anonymous users get nothing (the registry says 401).
    const access = account
      ? scopes.flatMap((s) => {
          const [type, ...mid] = s.split(':');
          const actions = mid.pop() ?? '';
          return type
            ? [{ type, name: mid.join(':'), actions: actions.split(',').filter((a) => a !== '') }]
            : [];
        })
      : [];
    const header = { typ: 'JWT', alg: 'RS256', x5c: [certDer.toString('base64')] };
    const claims = {
      iss: o.issuer,
      sub: account ?? '',
      aud: o.service,
      exp: now + 300,
      nbf: now - 30,
      iat: now,
      jti: randomBytes(8).toString('hex'),
      access,
    };
    const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const sig = sign('sha256', Buffer.from(signingInput), key);
    const token = `${signingInput}.${b64url(sig)}`;
    requests.push({ ...(account ? { account } : {}), scopes, status: 200 });
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(
        JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() }),
      );
  };
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    service: o.service,
    issuer: o.issuer,
    certPath,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
