/**
 * The server's PKI, created on first start (as k3s does): a self-signed CA (ECDSA P-256,
 * 10 years) and a serving certificate it signs for every name clients use (127.0.0.1, ::1,
 * localhost, the bind address, the host name, extra SANs). Private keys are written 0600.
 *
 * On later starts the CA is kept; the serving certificate is reissued when it is missing,
 * expires within 30 days, was not signed by the CA, or lacks a required name.
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

/** The CA's key and signature algorithm. */
export const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const dayMs = 24 * 3600 * 1000;
const caLifetimeMs = 3650 * dayMs;
const servingLifetimeMs = 365 * dayMs;
const renewBeforeMs = 30 * dayMs;

export interface ServingCertificates {
  /** PEM of the CA certificate (goes into kubeconfigs). */
  readonly caCert: string;
  /** PEM (PKCS#8) of the CA key: signs node client and serving certificates. */
  readonly caKey: string;
  readonly cert: string;
  readonly key: string;
  readonly caCertPath: string;
}

export interface CertificateNames {
  readonly ips: readonly string[];
  readonly dnsNames: readonly string[];
}

/** A random positive 16-byte certificate serial number (hex). */
export function serial(): string {
  // Positive 16-byte serial.
  const b = randomBytes(16);
  b[0] = (b[0] as number) & 0x7f;
  return b.toString('hex');
}

async function exportKeyPem(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

/** The CA key from its PKCS#8 PEM. @throws InternalError when it holds no PEM block */
export async function importKeyPem(pem: string): Promise<CryptoKey> {
  const der = x509.PemConverter.decode(pem)[0];
  if (!der) throw internal('The CA key file holds no PEM block');
  return webcrypto.subtle.importKey('pkcs8', der, algorithm, true, ['sign']);
}

/**
 * Replaces `path` durably (a CA lost to a power cut would orphan every kubeconfig) with
 * exactly `mode`: the mode given at creation is narrowed by the umask.
 */
async function writeAtomic(path: string, text: string, mode: number): Promise<void> {
  await writeFileAtomic(path, text, { mode, isDurable: true });
  await chmod(path, mode);
}

function covers(cert: X509Certificate, names: CertificateNames): boolean {
  return (
    names.ips.every((ip) => cert.checkIP(ip) !== undefined) &&
    names.dnsNames.every((dns) => cert.checkHost(dns, { wildcards: false }) !== undefined)
  );
}

/** The names a serving certificate must carry for `bindAddress` and `hostname`. */
export function servingNames(
  bindAddress: string,
  hostname: string,
  extra: readonly string[] = [],
): CertificateNames {
  const ips = new Set(['127.0.0.1', '::1']);
  const dns = new Set(['localhost']);
  for (const n of [bindAddress, hostname, ...extra]) {
    if (!n || n === '0.0.0.0' || n === '::') continue;
    if (isIP(n)) ips.add(n);
    else dns.add(n.toLowerCase());
  }
  return { ips: [...ips], dnsNames: [...dns] };
}

/**
 * Loads or creates the CA and serving certificate in `dir`.
 * @throws InternalError when existing files cannot be read or parsed.
 */
export async function ensureServingCertificates(
  dir: string,
  names: CertificateNames,
  deps: { clock: Clock; log: Logger },
): Promise<ServingCertificates> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const caCertPath = join(dir, 'server-ca.crt');
  const caKeyPath = join(dir, 'server-ca.key');
  const certPath = join(dir, 'serving.crt');
  const keyPath = join(dir, 'serving.key');
  const now = deps.clock.now();

  let caCertPem = await readTextIfExists(caCertPath);
  let caKeyPem = await readTextIfExists(caKeyPath);
  let caKey: CryptoKey;
  let caCert: x509.X509Certificate;
  if (caCertPem && caKeyPem) {
    try {
      caKey = await importKeyPem(caKeyPem);
      caCert = new x509.X509Certificate(caCertPem);
    } catch (err) {
      throw internal(`Cannot read the server CA in "${dir}"; move the files away to create a new CA`, {
        cause: err,
      });
    }
  } else {
    const keys = (await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])) as CryptoKeyPair;
    caCert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serial(),
      name: `CN=h8s-server-ca@${Math.floor(now / 1000)}`,
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + caLifetimeMs),
      signingAlgorithm: algorithm,
      keys,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
          true,
        ),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    caKey = keys.privateKey;
    caCertPem = caCert.toString('pem') + '\n';
    caKeyPem = await exportKeyPem(keys.privateKey);
    await writeAtomic(caKeyPath, caKeyPem, 0o600);
    await writeAtomic(caCertPath, caCertPem, 0o644);
    deps.log.info('Created the server CA', { path: caCertPath });
  }

  const certPem = await readTextIfExists(certPath);
  const keyPem = await readTextIfExists(keyPath);
  if (certPem && keyPem) {
    try {
      const cert = new X509Certificate(certPem);
      const caPublic = createPublicKey(caCertPem);
      const fresh = Date.parse(cert.validTo) - now > renewBeforeMs;
      if (fresh && cert.verify(caPublic) && covers(cert, names)) {
        return { caCert: caCertPem, caKey: caKeyPem, cert: certPem, key: keyPem, caCertPath };
      }
    } catch {
      // Unreadable: issue a new one below.
    }
  }

  const keys = (await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])) as CryptoKeyPair;
  const sans: { type: 'dns' | 'ip'; value: string }[] = [
    ...names.dnsNames.map((value) => ({ type: 'dns' as const, value })),
    ...names.ips.map((value) => ({ type: 'ip' as const, value })),
  ];
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: 'CN=h8s-apiserver',
    issuer: caCert.subject,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + servingLifetimeMs),
    signingAlgorithm: algorithm,
    publicKey: keys.publicKey,
    signingKey: caKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
        true,
      ),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(sans),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  const newCertPem = cert.toString('pem') + '\n';
  const newKeyPem = await exportKeyPem(keys.privateKey);
  await writeAtomic(keyPath, newKeyPem, 0o600);
  await writeAtomic(certPath, newCertPem, 0o644);
  deps.log.info('Issued the serving certificate', { ips: names.ips, dnsNames: names.dnsNames });
  return { caCert: caCertPem, caKey: caKeyPem, cert: newCertPem, key: newKeyPem, caCertPath };
}
