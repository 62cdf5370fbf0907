/**
 * Certificates the cluster CA signs for nodes (kubelet's client and serving certificates, as
 * upstream's CSR signers `kube-apiserver-client-kubelet` and `kubelet-serving` issue them):
 *
 * - the client certificate: CN `system:node:<name>`, O `system:nodes`, extended key usage
 *   clientAuth only, so the API server authenticates the node by it;
 * - the serving certificate of the node's streaming server: the same subject, serverAuth only
 *   (so it never authenticates to the API server), SANs the node's IPs and host names.
 *
 * The node sends only public keys; its private keys never leave it.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';
import { invalid } from '../../lib/index.js';
// certificates.js also installs the library's crypto provider.
import { algorithm, importKeyPem, serial } from './certificates.js';

export interface NodeCertificateAuthority {
  readonly caCertPem: string;
  readonly caKeyPem: string;
}

export interface NodeCertificateRequest {
  readonly nodeName: string;
  /** SPKI PEM of the node's client key (EC P-256/P-384 or RSA of 2048 bits or more). */
  readonly clientPublicKeyPem: string;
  /** SPKI PEM of the streaming server's key; no serving certificate without it. */
  readonly servingPublicKeyPem?: string;
  /** IPs and DNS names of the serving certificate. */
  readonly servingNames: readonly string[];
  readonly lifetimeMs: number;
  readonly nowMs: number;
}

export interface NodeCertificates {
  readonly clientCertificate: string;
  readonly servingCertificate?: string;
  /** notAfter of both, in ms since the epoch. */
  readonly expiresMs: number;
}

/**
 * A public key PEM the node sent, checked for a key type and size worth signing.
 * @throws Invalid naming `field`
 */
export function parseNodePublicKey(pem: string, field: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch {
    throw invalid(`Invalid ${field}: not a PEM public key`, {
      details: { causes: [{ reason: 'FieldValueInvalid', message: 'not a PEM public key', field }] },
    });
  }
  const details = key.asymmetricKeyDetails ?? {};
  const ok =
    (key.asymmetricKeyType === 'ec' &&
      (details.namedCurve === 'prime256v1' || details.namedCurve === 'secp384r1')) ||
    (key.asymmetricKeyType === 'rsa' && (details.modulusLength ?? 0) >= 2048);
  if (!ok) {
    const message = 'expected an EC P-256 or P-384 key or an RSA key of at least 2048 bits';
    throw invalid(`Invalid ${field}: ${message}`, {
      details: { causes: [{ reason: 'FieldValueInvalid', message, field }] },
    });
  }
  return key;
}

function spki(key: KeyObject): x509.PublicKey {
  return new x509.PublicKey(key.export({ type: 'spki', format: 'der' }));
}

/** Signs the node's certificates. @throws Invalid for unusable public keys */
export async function issueNodeCertificates(
  ca: NodeCertificateAuthority,
  request: NodeCertificateRequest,
): Promise<NodeCertificates> {
  const clientKey = parseNodePublicKey(request.clientPublicKeyPem, 'clientPublicKey');
  const servingKey =
    request.servingPublicKeyPem !== undefined
      ? parseNodePublicKey(request.servingPublicKeyPem, 'servingPublicKey')
      : undefined;
  const caKey = await importKeyPem(ca.caKeyPem);
  const caCert = new x509.X509Certificate(ca.caCertPem);
  const notBefore = new Date(request.nowMs - 60_000);
  const notAfter = new Date(request.nowMs + request.lifetimeMs);
  // Distinguished-name values are escaped by the library's parser only for commas and the like;
  // node names are DNS subdomains, which need none.
  const subject = `CN=system:node:${request.nodeName}, O=system:nodes`;
  const common = async (key: x509.PublicKey) => ({
    serialNumber: serial(),
    subject,
    issuer: caCert.subject,
    notBefore,
    notAfter,
    signingAlgorithm: algorithm,
    publicKey: key,
    signingKey: caKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  const client = await common(spki(clientKey));
  const clientCert = await x509.X509CertificateGenerator.create({
    ...client,
    extensions: [
      ...client.extensions,
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
        true,
      ),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
    ],
  });
  let servingCert: x509.X509Certificate | undefined;
  if (servingKey) {
    const serving = await common(spki(servingKey));
    const sans = [...new Set(request.servingNames)].map((value) =>
      isIP(value) ? { type: 'ip' as const, value } : { type: 'dns' as const, value: value.toLowerCase() },
    );
    servingCert = await x509.X509CertificateGenerator.create({
      ...serving,
      extensions: [
        ...serving.extensions,
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
          true,
        ),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        ...(sans.length > 0 ? [new x509.SubjectAlternativeNameExtension(sans)] : []),
      ],
    });
  }
  return {
    clientCertificate: clientCert.toString('pem') + '\n',
    ...(servingCert ? { servingCertificate: servingCert.toString('pem') + '\n' } : {}),
    expiresMs: notAfter.getTime(),
  };
}
