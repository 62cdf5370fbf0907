/**
 * How an agent joins a cluster with a join token (docs/agent.md "Joining"), as k3s's agent and
 * kubeadm's TLS bootstrap do:
 *
 * 1. `GET /cacerts` without trusting the server yet, and compare the certificate's SHA-256 with
 *    the hash the join token pins: a mismatch is a hard error naming both hashes. From here on
 *    the server is verified against that CA like any TLS peer.
 * 2. Generate the node's keys here (EC P-256, node:crypto; they never leave the node) and
 *    `POST /h8s/v1/node-credentials` with the bootstrap token: the server answers the node's
 *    client certificate (`system:node:<name>` in `system:nodes`) and the serving certificate of
 *    its streaming server.
 * 3. Keep them in the agent's data dir: `ca.crt`, `client.crt`, `client.key` (0600),
 *    `serving.crt`, `serving.key` (0600). Later starts reuse them; when less than a third of
 *    their lifetime is left they are renewed with the current client certificate (the token
 *    may be gone by then), falling back to the token; a timer does the same while running.
 */
import { X509Certificate, createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import { chmod, mkdir } from 'node:fs/promises';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import { createApiClient } from '../client/index.js';
import {
  describeError,
  parseWith,
  systemClock,
  writeFileAtomic,
  type Clock,
  type Logger,
} from '../lib/index.js';
import { caCertificateHash, type JoinToken } from './join-token.js';

export interface NodeCredentials {
  readonly caPem: string;
  readonly certPem: string;
  readonly keyPem: string;
  readonly notBeforeMs: number;
  readonly notAfterMs: number;
}

export interface AgentJoinOptions {
  /** `https://host:port`. */
  readonly server: string;
  readonly token: JoinToken;
  readonly nodeName: string;
  /** Where the credential files live (the agent's data dir). */
  readonly dataDir: string;
  /** IPs and host names of the node's streaming server certificate. */
  readonly servingNames: readonly string[];
  readonly log: Logger;
  readonly clock?: Clock;
}

const NodeCredentialsReply = Type.Object({
  clientCertificate: Type.String(),
  servingCertificate: Type.Optional(Type.String()),
  caCertificate: Type.String(),
});

const maxCaBytes = 64 * 1024;

/** Renew when less than a third of the certificate's lifetime is left. */
export function renewAtMs(creds: Pick<NodeCredentials, 'notBeforeMs' | 'notAfterMs'>): number {
  return creds.notAfterMs - (creds.notAfterMs - creds.notBeforeMs) / 3;
}

/**
 * The CA certificate the server serves on `/cacerts`, read without verifying the server (the
 * caller checks the hash).
 */
export function fetchCaCertificate(server: string, timeoutMs = 15_000): Promise<string> {
  return new Promise((resolve, reject) => {
    // SAFETY: the server is not trusted here; only the hash check below makes the answer usable.
    const req = httpsRequest(
      `${server}/cacerts`,
      { method: 'GET', rejectUnauthorized: false, timeout: timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > maxCaBytes)
            req.destroy(new Error(`${server}/cacerts sent more than ${maxCaBytes} bytes`));
          else chunks.push(c);
        });
        res.on('end', () => {
          if (res.statusCode !== 200) {
            reject(new Error(`${server}/cacerts answered HTTP ${res.statusCode ?? 0}`));
          } else resolve(Buffer.concat(chunks).toString('utf8'));
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () =>
      req.destroy(new Error(`${server}/cacerts did not answer within ${timeoutMs} ms`)),
    );
    req.on('error', (err) => reject(new Error(`Cannot fetch ${server}/cacerts: ${describeError(err)}`)));
    req.end();
  });
}

/** Checks `caPem` against the pinned hash. @throws Error naming both hashes */
export function checkPinnedCa(caPem: string, token: JoinToken, server: string): void {
  let actual: string;
  try {
    actual = caCertificateHash(caPem);
  } catch (err) {
    throw new Error(`${server}/cacerts did not send a PEM certificate: ${describeError(err)}`);
  }
  if (actual !== token.caHash) {
    throw new Error(
      `The CA certificate of ${server} has SHA-256 ${actual}, but the join token pins ${token.caHash}: refusing to join (wrong server, or a man in the middle)`,
    );
  }
}

function subjectCommonName(cert: X509Certificate): string | undefined {
  for (const line of cert.subject.split('\n')) if (line.startsWith('CN=')) return line.slice(3);
  return undefined;
}

/** The credentials in `dir` when they are usable for `nodeName` under `caPem` now. */
async function readStoredCredentials(
  dir: string,
  caPem: string,
  nodeName: string,
  nowMs: number,
): Promise<NodeCredentials | undefined> {
  let certPem: string;
  let keyPem: string;
  try {
    certPem = await readFile(join(dir, 'client.crt'), 'utf8');
    keyPem = await readFile(join(dir, 'client.key'), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const cert = new X509Certificate(certPem);
    const ca = new X509Certificate(caPem);
    const notBeforeMs = Date.parse(cert.validFrom);
    const notAfterMs = Date.parse(cert.validTo);
    const isUsable =
      cert.verify(ca.publicKey) &&
      cert.checkPrivateKey(createPrivateKey(keyPem)) &&
      subjectCommonName(cert) === `system:node:${nodeName}` &&
      notAfterMs > nowMs;
    return isUsable ? { caPem, certPem, keyPem, notBeforeMs, notAfterMs } : undefined;
  } catch {
    return undefined;
  }
}

function newKeyPair(): { publicKey: string; privateKey: string } {
  return generateKeyPairSync('ec', {
    namedCurve: 'P-256',
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}

async function writeFileMode(path: string, text: string, mode: number): Promise<void> {
  await writeFileAtomic(path, text, { mode, isDurable: true });
  // The mode given at creation is narrowed by the umask.
  await chmod(path, mode);
}

/**
 * Asks the server for new credentials, authenticated by `auth` (the bootstrap token, or the
 * current client certificate), and stores them.
 */
async function requestCredentials(
  o: AgentJoinOptions,
  caPem: string,
  auth: { readonly token: string } | { readonly clientCertPem: string; readonly clientKeyPem: string },
): Promise<NodeCredentials> {
  const client = newKeyPair();
  const serving = newKeyPair();
  const api = createApiClient({
    server: o.server,
    caPem,
    ...auth,
    userAgent: 'h8s-agent',
    timeoutMs: 30_000,
  });
  let reply: unknown;
  try {
    reply = await api.request({
      method: 'POST',
      path: '/h8s/v1/node-credentials',
      body: {
        nodeName: o.nodeName,
        clientPublicKey: client.publicKey,
        servingPublicKey: serving.publicKey,
        servingNames: o.servingNames,
      },
    });
  } finally {
    api.close();
  }
  const answer = parseWith(NodeCredentialsReply, reply, 'node credentials reply');
  const cert = new X509Certificate(answer.clientCertificate);
  if (!cert.verify(new X509Certificate(caPem).publicKey)) {
    throw new Error(`${o.server} sent a client certificate the pinned CA did not sign`);
  }
  await mkdir(o.dataDir, { recursive: true, mode: 0o700 });
  // Keys before certificates: a crash in between leaves a pair that does not match, which the
  // next start notices (and joins again) instead of using.
  await writeFileMode(join(o.dataDir, 'client.key'), client.privateKey, 0o600);
  await writeFileMode(join(o.dataDir, 'client.crt'), answer.clientCertificate, 0o644);
  if (answer.servingCertificate !== undefined) {
    await writeFileMode(join(o.dataDir, 'serving.key'), serving.privateKey, 0o600);
    await writeFileMode(join(o.dataDir, 'serving.crt'), answer.servingCertificate, 0o644);
  }
  return {
    caPem,
    certPem: answer.clientCertificate,
    keyPem: client.privateKey,
    notBeforeMs: Date.parse(cert.validFrom),
    notAfterMs: Date.parse(cert.validTo),
  };
}

/** The pinned CA: `ca.crt` when it matches the pin, else fetched from the server and checked. */
async function pinnedCa(o: AgentJoinOptions): Promise<string> {
  const caPath = join(o.dataDir, 'ca.crt');
  let stored: string | undefined;
  try {
    stored = await readFile(caPath, 'utf8');
    checkPinnedCa(stored, o.token, o.server);
    return stored;
  } catch {
    // Missing, or another CA (the server was set up again): fetch and check the server's.
  }
  const caPem = await fetchCaCertificate(o.server);
  checkPinnedCa(caPem, o.token, o.server);
  await mkdir(o.dataDir, { recursive: true, mode: 0o700 });
  await writeFileMode(caPath, caPem, 0o644);
  if (stored !== undefined)
    o.log.info('Replaced the stored cluster CA with the pinned one', { path: caPath });
  return caPem;
}

/**
 * The node's credentials: the stored ones while fresh, else renewed with them, else joined with
 * the token.
 * @throws Error for a CA that does not match the pin, or when the server refuses the node
 */
export async function ensureJoinedCredentials(o: AgentJoinOptions): Promise<NodeCredentials> {
  const clock = o.clock ?? systemClock;
  const caPem = await pinnedCa(o);
  const stored = await readStoredCredentials(o.dataDir, caPem, o.nodeName, clock.now());
  if (stored && renewAtMs(stored) > clock.now()) return stored;
  if (stored) {
    try {
      const renewed = await requestCredentials(o, caPem, {
        clientCertPem: stored.certPem,
        clientKeyPem: stored.keyPem,
      });
      o.log.info('Renewed the node certificate', { node: o.nodeName, expires: new Date(renewed.notAfterMs) });
      return renewed;
    } catch (err) {
      o.log.warn('Cannot renew the node certificate with itself; joining with the token', {
        error: describeError(err),
      });
    }
  }
  try {
    const joined = await requestCredentials(o, caPem, { token: `${o.token.id}.${o.token.secret}` });
    o.log.info('Joined the cluster', {
      server: o.server,
      node: o.nodeName,
      expires: new Date(joined.notAfterMs),
    });
    return joined;
  } catch (err) {
    throw new Error(`Cannot join ${o.server} as node "${o.nodeName}": ${describeError(err)}`, { cause: err });
  }
}

/** Longest single timer (setTimeout's limit is about 24.8 days). */
const maxSleepMs = 24 * 3600 * 1000;

/**
 * Renews the credentials when a third of their lifetime is left, until `signal` aborts, and
 * hands each new set to `onRenewed` (which reloads the client). Failures are retried with
 * back-off (1 minute doubling to 1 hour); they are logged, never thrown.
 */
export async function runCredentialRenewal(
  o: AgentJoinOptions,
  current: NodeCredentials,
  onRenewed: (creds: NodeCredentials) => void,
  signal: AbortSignal,
): Promise<void> {
  const clock = o.clock ?? systemClock;
  let creds = current;
  let retryMs = 60_000;
  while (!signal.aborted) {
    const waitMs = renewAtMs(creds) - clock.now();
    try {
      await clock.sleep(Math.min(Math.max(waitMs, 0), maxSleepMs), signal);
    } catch {
      return;
    }
    if (renewAtMs(creds) > clock.now()) continue;
    try {
      creds = await ensureJoinedCredentials(o);
      onRenewed(creds);
      retryMs = 60_000;
    } catch (err) {
      o.log.warn('Cannot renew the node certificate; retrying', {
        error: describeError(err),
        retryInMs: retryMs,
      });
      try {
        await clock.sleep(retryMs, signal);
      } catch {
        return;
      }
      retryMs = Math.min(retryMs * 2, 3600_000);
    }
  }
}
