/**
 * The certificates of the streaming path (API server → node agent, kubelet's port 10250),
 * issued from the cluster CA that `certificates.ts` keeps:
 *
 * - the API server's kubelet client certificate (`CN=kube-apiserver-kubelet-client`,
 *   `O=system:masters`, clientAuth), in `<tls-dir>/kubelet-client.{crt,key}`; agents accept
 *   only this identity on their streaming endpoint;
 * - a serving certificate for a node's streaming endpoint (`CN=system:node:<name>`, serverAuth,
 *   DNS SAN = the node name, plus the host's names and addresses), written with the client CA
 *   into `<agent-dir>/pki/` for the agent `h8s server` starts. The API server checks the
 *   agent's certificate against the CA and the node's name, whatever address it dials.
 *
 * Both are reissued when missing, expiring within 30 days, not signed by the current CA, or
 * (serving) lacking a required name. Private keys are 0600.
 */
import { X509Certificate, createPublicKey, randomBytes, webcrypto } from 'node:crypto';
import { chmod, mkdir } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { internal, writeFileAtomic, type Clock, type Logger } from '../../lib/index.js';
import { readTextIfExists } from './data-files.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const dayMs = 24 * 3600 * 1000;
const lifetimeMs = 365 * dayMs;
const renewBeforeMs = 30 * dayMs;

/** The identity agents accept on their streaming endpoint (as the agent's kubeletClientName). */
export const kubeletClientCommonName = 'kube-apiserver-kubelet-client';

export interface KubeletClientCredentials {
  readonly cert: string;
  readonly key: string;
  /** The cluster CA, which signs the agents' serving certificates. */
  readonly caCert: string;
}

interface CertificateAuthority {
  readonly certPem: string;
  readonly cert: x509.X509Certificate;
  readonly key: CryptoKey;
}

async function loadCa(tlsDir: string): Promise<CertificateAuthority> {
  const certPem = await readTextIfExists(join(tlsDir, 'server-ca.crt'));
  const keyPem = await readTextIfExists(join(tlsDir, 'server-ca.key'));
  if (!certPem || !keyPem) throw internal(`The server CA in "${tlsDir}" is missing`);
  try {
    const der = x509.PemConverter.decode(keyPem)[0];
    if (!der) throw new Error('no PEM block');
    const key = await webcrypto.subtle.importKey('pkcs8', der, algorithm, true, ['sign']);
    return { certPem, cert: new x509.X509Certificate(certPem), key };
  } catch (err) {
    throw internal(`Cannot read the server CA in "${tlsDir}"`, { cause: err });
  }
}

async function writeAtomic(path: string, text: string, mode: number): Promise<void> {
  await writeFileAtomic(path, text, { mode, isDurable: true });
  await chmod(path, mode);
}

/** The existing pair at `certPath`/`keyPath` when it is fresh, from `ca`, and passes `isGood`. */
async function reusable(
  certPath: string,
  keyPath: string,
  ca: CertificateAuthority,
  now: number,
  isGood: (cert: X509Certificate) => boolean,
): Promise<{ cert: string; key: string } | undefined> {
  const cert = await readTextIfExists(certPath);
  const key = await readTextIfExists(keyPath);
  if (!cert || !key) return undefined;
  try {
    const c = new X509Certificate(cert);
    const isFresh = Date.parse(c.validTo) - now > renewBeforeMs;
    return isFresh && c.verify(createPublicKey(ca.certPem)) && isGood(c) ? { cert, key } : undefined;
  } catch {
    return undefined; // unreadable: issue a new one
  }
}

async function issue(
  ca: CertificateAuthority,
  now: number,
  subject: string,
  usage: 'client' | 'server',
  sans: readonly { type: 'dns' | 'ip'; value: string }[],
): Promise<{ cert: string; key: string }> {
  const keys = (await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])) as CryptoKeyPair;
  const serial = randomBytes(16);
  serial[0] = (serial[0] as number) & 0x7f;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial.toString('hex'),
    subject,
    issuer: ca.cert.subject,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + lifetimeMs),
    signingAlgorithm: algorithm,
    publicKey: keys.publicKey,
    signingKey: ca.key,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
        true,
      ),
      new x509.ExtendedKeyUsageExtension([
        usage === 'client' ? x509.ExtendedKeyUsage.clientAuth : x509.ExtendedKeyUsage.serverAuth,
      ]),
      ...(sans.length ? [new x509.SubjectAlternativeNameExtension([...sans])] : []),
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
    ],
  });
  const der = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { cert: cert.toString('pem') + '\n', key: x509.PemConverter.encode(der, 'PRIVATE KEY') };
}

/**
 * Loads or issues the API server's kubelet client certificate in `tlsDir` (beside the CA).
 * @throws InternalError when the CA cannot be read.
 */
export async function ensureKubeletClientCredentials(
  tlsDir: string,
  deps: { readonly clock: Clock; readonly log: Logger },
): Promise<KubeletClientCredentials> {
  const ca = await loadCa(tlsDir);
  const certPath = join(tlsDir, 'kubelet-client.crt');
  const keyPath = join(tlsDir, 'kubelet-client.key');
  const now = deps.clock.now();
  const existing = await reusable(certPath, keyPath, ca, now, (c) =>
    c.subject.split('\n').includes(`CN=${kubeletClientCommonName}`),
  );
  if (existing) return { ...existing, caCert: ca.certPem };
  const fresh = await issue(ca, now, `CN=${kubeletClientCommonName}, O=system:masters`, 'client', []);
  await writeAtomic(keyPath, fresh.key, 0o600);
  await writeAtomic(certPath, fresh.cert, 0o644);
  deps.log.info('Issued the kubelet client certificate', { path: certPath });
  return { ...fresh, caCert: ca.certPem };
}

/**
 * Loads or issues the streaming serving certificate of node `nodeName` into `<agentDir>/pki`
 * (`streaming.crt`, `streaming.key`, `client-ca.crt`), for the names in `hostNames` (IPs or
 * DNS names) besides the node name, localhost and loopback.
 */
export async function ensureNodeStreamingCredentials(
  tlsDir: string,
  agentDir: string,
  nodeName: string,
  hostNames: readonly string[],
  deps: { readonly clock: Clock; readonly log: Logger },
): Promise<void> {
  const ca = await loadCa(tlsDir);
  const pki = join(agentDir, 'pki');
  await mkdir(pki, { recursive: true, mode: 0o700 });
  const certPath = join(pki, 'streaming.crt');
  const keyPath = join(pki, 'streaming.key');
  const ips = new Set(['127.0.0.1', '::1']);
  const dns = new Set([nodeName, 'localhost']);
  for (const n of hostNames) {
    if (!n || n === '0.0.0.0' || n === '::') continue;
    if (isIP(n)) ips.add(n);
    else dns.add(n.toLowerCase());
  }
  const now = deps.clock.now();
  const covers = (c: X509Certificate): boolean =>
    [...ips].every((ip) => c.checkIP(ip) !== undefined) &&
    [...dns].every((d) => c.checkHost(d, { wildcards: false }) !== undefined);
  if (!(await reusable(certPath, keyPath, ca, now, covers))) {
    const fresh = await issue(ca, now, `CN=system:node:${nodeName}, O=system:nodes`, 'server', [
      ...[...dns].map((value) => ({ type: 'dns' as const, value })),
      ...[...ips].map((value) => ({ type: 'ip' as const, value })),
    ]);
    await writeAtomic(keyPath, fresh.key, 0o600);
    await writeAtomic(certPath, fresh.cert, 0o644);
    deps.log.info('Issued the streaming certificate of the node', { node: nodeName, path: certPath });
  }
  const caPath = join(pki, 'client-ca.crt');
  if ((await readTextIfExists(caPath)) !== ca.certPem) await writeAtomic(caPath, ca.certPem, 0o644);
}
