/**
 * The service-account signing key (upstream `--service-account-signing-key-file` and
 * `--service-account-key-file` in one): an ECDSA P-256 key (ES256) created on first start
 * beside the server's other keys, `<data-dir>/server/tls/service-account.key` (PKCS#8 PEM,
 * 0600), and kept across restarts so tokens issued before a restart stay valid. An RSA key put
 * there instead is used with RS256.
 *
 * The key id (`kid` in every token header and in the JWKS) is upstream's: the unpadded
 * base64url SHA-256 of the public key's DER (PKIX) encoding.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { internal, writeFileAtomic, type Logger } from '../../lib/index.js';
import { readTextIfExists } from '../server/data-files.js';

export type SigningAlgorithm = 'ES256' | 'RS256';

export interface ServiceAccountSigningKey {
  readonly algorithm: SigningAlgorithm;
  /** Upstream's key id: base64url(SHA-256(PKIX DER of the public key)). */
  readonly keyId: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

/** The key held by `pem` (PKCS#8 or SEC1/PKCS#1 PEM). @throws InternalError for other keys */
export function signingKeyFromPem(pem: string): ServiceAccountSigningKey {
  const privateKey = createPrivateKey(pem);
  const publicKey = createPublicKey(privateKey);
  const type = privateKey.asymmetricKeyType;
  let algorithm: SigningAlgorithm;
  if (type === 'ec' && privateKey.asymmetricKeyDetails?.namedCurve === 'prime256v1') algorithm = 'ES256';
  else if (type === 'rsa' && (privateKey.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048)
    algorithm = 'RS256';
  else
    throw internal('The service-account key must be an ECDSA P-256 key or an RSA key of at least 2048 bits');
  return { algorithm, keyId: keyIdOf(publicKey), privateKey, publicKey };
}

export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('base64url');
}

/** A new ES256 key (the file's content when there is none yet; tests use it directly). */
export function generateServiceAccountKeyPem(): string {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/**
 * Loads `<dir>/service-account.key`, creating it on first start.
 * @throws InternalError when the file exists but holds no usable key (it is never replaced:
 *   that would invalidate every token in use).
 */
export async function ensureServiceAccountKey(
  dir: string,
  deps: { readonly log: Logger },
): Promise<ServiceAccountSigningKey> {
  const path = join(dir, 'service-account.key');
  const existing = await readTextIfExists(path);
  if (existing !== undefined) {
    try {
      return signingKeyFromPem(existing);
    } catch (err) {
      throw internal(`Cannot read the service-account key "${path}"; move it away to create a new one`, {
        cause: err,
      });
    }
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const pem = generateServiceAccountKeyPem();
  // Durable: a key lost to a power cut would invalidate every token pods hold.
  await writeFileAtomic(path, pem, { mode: 0o600, isDurable: true });
  deps.log.info('Created the service-account signing key', { path });
  return signingKeyFromPem(pem);
}
