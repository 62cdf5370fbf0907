/**
 * Bootstrap tokens (upstream's `bootstrap.kubernetes.io/token` Secrets, as kubeadm and k3s
 * keep them): a token `<id>.<secret>` is valid while the Secret `kube-system/bootstrap-token-<id>`
 * exists, is of that type, says `usage-bootstrap-authentication: "true"`, holds the same
 * `token-secret` (compared in constant time) and its optional `expiration` (RFC 3339) has not
 * passed. An expired token's Secret is deleted when it is presented (the `tokencleaner`
 * controller also deletes them when they expire).
 *
 * The id is public (it names the Secret); the secret never reaches a log line or an error.
 */
import { timingSafeEqual } from 'node:crypto';
import type { KubeObject } from '../../api/index.js';
import { describeError, isNotFound, type Clock, type Logger } from '../../lib/index.js';
import { sha256 } from '../filters/authentication.js';
import type { UserInfo } from '../filters/user-info.js';
import type { ApiRegistry } from '../registry/api-registry.js';
import { apiserverUser } from '../filters/user-info.js';

export const bootstrapTokenSecretType = 'bootstrap.kubernetes.io/token';
export const bootstrapTokenNamespace = 'kube-system';
/** `<id>.<secret>`: 6 and 16 characters of [a-z0-9] (upstream's `BootstrapTokenPattern`). */
export const bootstrapTokenPattern = /^([a-z0-9]{6})\.([a-z0-9]{16})$/;

export type BootstrapTokenVerdict =
  | { readonly isValid: true; readonly user: UserInfo; readonly tokenId: string }
  | { readonly isValid: false; readonly reason: 'malformed' | 'unknown' | 'expired' | 'mismatch' };

function dataField(secret: KubeObject, key: string): string | undefined {
  const data = (secret as { data?: unknown }).data;
  if (typeof data !== 'object' || data === null) return undefined;
  const value = (data as Record<string, unknown>)[key];
  return typeof value === 'string' ? Buffer.from(value, 'base64').toString('utf8') : undefined;
}

/** The expiry of a bootstrap-token Secret in ms since the epoch; undefined when it has none. */
export function bootstrapTokenExpiresMs(secret: KubeObject): number | undefined {
  const text = dataField(secret, 'expiration');
  if (text === undefined || text === '') return undefined;
  const ms = Date.parse(text);
  // An unreadable expiration counts as expired: a typo must not make a token eternal.
  return Number.isNaN(ms) ? 0 : ms;
}

export interface BootstrapTokenAuthenticatorDeps {
  readonly registry: ApiRegistry;
  readonly clock: Clock;
  readonly log: Logger;
}

/** Checks bootstrap tokens against their Secrets (read from the registry, so always current). */
export class BootstrapTokenAuthenticator {
  readonly #deps: BootstrapTokenAuthenticatorDeps;

  constructor(deps: BootstrapTokenAuthenticatorDeps) {
    this.#deps = deps;
  }

  async authenticate(token: string): Promise<BootstrapTokenVerdict> {
    const m = bootstrapTokenPattern.exec(token);
    if (!m) return { isValid: false, reason: 'malformed' };
    const id = m[1] as string;
    const presented = m[2] as string;
    const secrets = this.#deps.registry.findKind('', 'Secret');
    if (!secrets) return { isValid: false, reason: 'unknown' };
    const name = `bootstrap-token-${id}`;
    let secret: KubeObject;
    try {
      secret = await secrets.get(bootstrapTokenNamespace, name);
    } catch (err) {
      if (isNotFound(err)) return { isValid: false, reason: 'unknown' };
      throw err;
    }
    if ((secret as { type?: unknown }).type !== bootstrapTokenSecretType) {
      return { isValid: false, reason: 'unknown' };
    }
    const stored = dataField(secret, 'token-secret') ?? '';
    // Digests have equal lengths, so the comparison takes the same time whatever was sent.
    const isSame = timingSafeEqual(sha256(stored), sha256(presented));
    if (!isSame || dataField(secret, 'token-id') !== id) return { isValid: false, reason: 'mismatch' };
    if (dataField(secret, 'usage-bootstrap-authentication') !== 'true') {
      return { isValid: false, reason: 'mismatch' };
    }
    const expiresMs = bootstrapTokenExpiresMs(secret);
    if (expiresMs !== undefined && expiresMs <= this.#deps.clock.now()) {
      await this.#deleteExpired(name);
      return { isValid: false, reason: 'expired' };
    }
    const extra = (dataField(secret, 'auth-extra-groups') ?? '')
      .split(',')
      .map((g) => g.trim())
      .filter((g) => g.startsWith('system:bootstrappers:'));
    return {
      isValid: true,
      tokenId: id,
      user: {
        name: `system:bootstrap:${id}`,
        groups: ['system:bootstrappers', ...extra, 'system:authenticated'],
      },
    };
  }

  async #deleteExpired(name: string): Promise<void> {
    const secrets = this.#deps.registry.findKind('', 'Secret');
    try {
      await secrets?.delete(
        bootstrapTokenNamespace,
        name,
        {},
        {
          user: apiserverUser,
          dryRun: false,
          fieldManager: 'h8s-apiserver',
          fieldValidation: 'Strict',
          warnings: [],
        },
      );
      this.#deps.log.info('Deleted an expired bootstrap token', { secret: name });
    } catch (err) {
      if (!isNotFound(err)) {
        this.#deps.log.warn('Cannot delete an expired bootstrap token', {
          secret: name,
          error: describeError(err),
        });
      }
    }
  }
}
