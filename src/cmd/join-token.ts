/**
 * Node join tokens (k3s's "secure" token format over kubeadm's bootstrap tokens):
 * `K10<sha256 of the cluster CA certificate's DER, hex>::<id>.<secret>`, the id 6 and the
 * secret 16 characters of [a-z0-9]. The hash pins the CA: a joining agent trusts the server
 * only when `/cacerts` hashes to it. The `<id>.<secret>` part is a bootstrap token, kept as the
 * Secret `kube-system/bootstrap-token-<id>` (type `bootstrap.kubernetes.io/token`).
 *
 * Pure functions only: no I/O, so the agent, the server and `h8s token` share them.
 */
import { X509Certificate, createHash, randomInt } from 'node:crypto';
import type { KubeObject } from '../api/index.js';

export interface JoinToken {
  /** Lowercase hex SHA-256 of the CA certificate's DER. */
  readonly caHash: string;
  readonly id: string;
  readonly secret: string;
}

const joinTokenPattern = /^K10([0-9a-fA-F]{64})::([a-z0-9]{6})\.([a-z0-9]{16})$/;
const tokenAlphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** Whether `text` (trimmed) looks like a join token rather than a plain bearer token. */
export function isJoinToken(text: string): boolean {
  return text.trim().startsWith('K10');
}

/**
 * Parses `K10<hash>::<id>.<secret>`.
 * @throws Error naming the part that is wrong (never echoing the secret)
 */
export function parseJoinToken(text: string): JoinToken {
  const t = text.trim();
  const m = joinTokenPattern.exec(t);
  if (m) return { caHash: (m[1] as string).toLowerCase(), id: m[2] as string, secret: m[3] as string };
  if (!t.startsWith('K10')) throw new Error('Invalid join token: it does not start with "K10"');
  const sep = t.indexOf('::');
  if (sep < 0) throw new Error('Invalid join token: expected K10<CA hash>::<id>.<secret>');
  if (!/^[0-9a-fA-F]{64}$/.test(t.slice(3, sep))) {
    throw new Error('Invalid join token: the CA hash is not 64 hexadecimal digits');
  }
  throw new Error(
    'Invalid join token: the part after "::" must be <id>.<secret>, 6 and 16 characters of a-z and 0-9',
  );
}

export function formatJoinToken(token: JoinToken): string {
  return `K10${token.caHash}::${token.id}.${token.secret}`;
}

/** The hex SHA-256 of a PEM certificate's DER (what the join token pins). @throws for bad PEM */
export function caCertificateHash(caPem: string): string {
  return createHash('sha256').update(new X509Certificate(caPem).raw).digest('hex');
}

function randomChars(n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += tokenAlphabet[randomInt(tokenAlphabet.length)];
  return s;
}

/** A fresh bootstrap token id and secret. */
export function generateBootstrapToken(): { readonly id: string; readonly secret: string } {
  return { id: randomChars(6), secret: randomChars(16) };
}

/** Parses a `--ttl` value: `0` (never expires) or a sum like `24h`, `90m`, `1h30m`, `3600s`. */
export function parseTtlMs(text: string): number {
  if (text === '0') return 0;
  const m = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(text);
  if (!m || text === '')
    throw new Error(`Invalid ttl "${text}": expected a duration like 24h, 90m, 1h30m or 0`);
  const [d, h, min, s] = [m[1], m[2], m[3], m[4]].map((v) => Number(v ?? 0)) as [
    number,
    number,
    number,
    number,
  ];
  const ms = (((d * 24 + h) * 60 + min) * 60 + s) * 1000;
  if (ms <= 0)
    throw new Error(`Invalid ttl "${text}": must be positive, or 0 for a token that never expires`);
  return ms;
}

/** The bootstrap-token Secret of a token, as kubeadm writes it. */
export function bootstrapTokenSecret(options: {
  readonly id: string;
  readonly secret: string;
  readonly description: string;
  /** Omit for a token that never expires. */
  readonly expiresMs?: number;
}): KubeObject {
  const b64 = (v: string): string => Buffer.from(v, 'utf8').toString('base64');
  const data: Record<string, string> = {
    'token-id': b64(options.id),
    'token-secret': b64(options.secret),
    'usage-bootstrap-authentication': b64('true'),
    'usage-bootstrap-signing': b64('true'),
    'auth-extra-groups': b64('system:bootstrappers:h8s:default-node-token'),
    description: b64(options.description),
  };
  if (options.expiresMs !== undefined) {
    data['expiration'] = b64(new Date(options.expiresMs).toISOString().replace(/\.\d{3}Z$/, 'Z'));
  }
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: `bootstrap-token-${options.id}`, namespace: 'kube-system' },
    type: 'bootstrap.kubernetes.io/token',
    data,
  };
}
