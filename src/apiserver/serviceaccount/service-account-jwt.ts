/**
 * Compact JWS (RFC 7515) signing and verification for service-account tokens, with node:crypto
 * only: ES256 signatures are the raw 64-byte r||s form JWS requires (`ieee-p1363`), not DER.
 * Verification accepts only the algorithm of the key named by `kid`, so a token cannot choose
 * `none` or swap algorithms.
 */
import { sign, verify, type KeyObject } from 'node:crypto';
import { isRecord } from '../../lib/index.js';
import type { ServiceAccountSigningKey, SigningAlgorithm } from './signing-key.js';

/** The key a verifier knows (the JWKS holds the same). */
export interface VerificationKey {
  readonly keyId: string;
  readonly algorithm: SigningAlgorithm;
  readonly publicKey: KeyObject;
}

/** Longest token text looked at (a bound token is ~1 KiB). */
const maxTokenLength = 16 * 1024;

function signatureOptions(algorithm: SigningAlgorithm, key: KeyObject) {
  return algorithm === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' as const } : key;
}

/** `header.payload.signature` for `claims`, signed with `key`. */
export function signJwt(key: ServiceAccountSigningKey, claims: Readonly<Record<string, unknown>>): string {
  const header = Buffer.from(JSON.stringify({ alg: key.algorithm, kid: key.keyId })).toString('base64url');
  const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
  const input = `${header}.${payload}`;
  const signature = sign('sha256', Buffer.from(input), signatureOptions(key.algorithm, key.privateKey));
  return `${input}.${signature.toString('base64url')}`;
}

function decodePart(part: string): unknown {
  if (!/^[A-Za-z0-9_-]*$/.test(part)) return undefined;
  try {
    return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

/** Whether `text` looks like a compact JWS (three base64url parts); cheap, no crypto. */
export function looksLikeJwt(text: string): boolean {
  return text.length <= maxTokenLength && /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(text);
}

/**
 * The claims of `token` when one of `keys` signed it; undefined when it is not a JWS, names no
 * key we know, or its signature does not verify. Claims are not checked here (time, issuer).
 */
export function verifyJwt(
  keys: readonly VerificationKey[],
  token: string,
): Record<string, unknown> | undefined {
  if (!looksLikeJwt(token)) return undefined;
  const [h, p, s] = token.split('.') as [string, string, string];
  const header = decodePart(h);
  if (!isRecord(header) || typeof header['alg'] !== 'string') return undefined;
  const key = keys.find(
    (k) => (header['kid'] === undefined || header['kid'] === k.keyId) && k.algorithm === header['alg'],
  );
  if (!key) return undefined;
  const ok = verify(
    'sha256',
    Buffer.from(`${h}.${p}`),
    signatureOptions(key.algorithm, key.publicKey),
    Buffer.from(s, 'base64url'),
  );
  if (!ok) return undefined;
  const claims = decodePart(p);
  return isRecord(claims) ? claims : undefined;
}
