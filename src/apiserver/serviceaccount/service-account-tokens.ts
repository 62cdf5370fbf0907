/**
 * Service-account tokens (upstream `pkg/serviceaccount`): issuing the JWTs the TokenRequest API
 * answers, and validating them for authentication and TokenReview.
 *
 * Claims are upstream's: `iss`, `sub` (`system:serviceaccount:<ns>:<name>`), `aud`, `exp`,
 * `iat`, `nbf`, `jti` and `kubernetes.io: {namespace, serviceaccount: {name, uid}, pod|secret:
 * {name, uid}, node: {name, uid}}` (node: the node of a bound pod, or the node the token is
 * bound to). A token is valid while it is within its lifetime (60 s of leeway, as go-jose's),
 * names one of the wanted audiences, and the ServiceAccount (and the Pod, Secret or Node it is
 * bound to) still exists with the uid in the token. Why a token failed goes to the debug log;
 * callers only learn upstream's short reasons.
 */
import { randomUUID } from 'node:crypto';
import { isRecord, type Clock, type Logger } from '../../lib/index.js';
import type { UserInfo } from '../filters/user-info.js';
import { signJwt, verifyJwt, type VerificationKey } from './service-account-jwt.js';
import type { ServiceAccountSigningKey } from './signing-key.js';
import type { DependentKind, StoredObjects } from './stored-objects.js';

export const defaultServiceAccountIssuer = 'https://kubernetes.default.svc.cluster.local';

export interface ObjectRef {
  readonly name: string;
  readonly uid: string;
}

export interface TokenIssue {
  readonly namespace: string;
  readonly serviceAccount: ObjectRef;
  readonly audiences: readonly string[];
  readonly expirationSeconds: number;
  readonly bound?: { readonly kind: 'Pod' | 'Secret'; readonly ref: ObjectRef } | undefined;
  readonly node?: ObjectRef | undefined;
}

export type TokenVerdict =
  | { readonly isValid: true; readonly user: UserInfo; readonly audiences: readonly string[] }
  | { readonly isValid: false; readonly error: string };

export interface ServiceAccountTokensDeps {
  readonly signingKey: ServiceAccountSigningKey;
  /** `iss` of issued tokens; default `https://kubernetes.default.svc.cluster.local`. */
  readonly issuer?: string | undefined;
  /** The server's own audiences (`--api-audiences`); default `[issuer]`. */
  readonly apiAudiences?: readonly string[] | undefined;
  readonly objects: StoredObjects;
  readonly clock: Clock;
  readonly log: Logger;
}

const leewaySeconds = 60;
const maxVerified = 1_024;

export const serviceAccountGroups = 'system:serviceaccounts';

/** `system:serviceaccount:<ns>:<name>` (upstream `serviceaccount.MakeUsername`). */
export function serviceAccountUsername(namespace: string, name: string): string {
  return `system:serviceaccount:${namespace}:${name}`;
}

interface PrivateClaims {
  readonly namespace: string;
  readonly serviceaccount: ObjectRef;
  readonly pod?: ObjectRef;
  readonly secret?: ObjectRef;
  readonly node?: ObjectRef;
}

function refOf(value: unknown): ObjectRef | undefined {
  if (!isRecord(value) || typeof value['name'] !== 'string' || typeof value['uid'] !== 'string')
    return undefined;
  return { name: value['name'], uid: value['uid'] };
}

export class ServiceAccountTokens {
  readonly issuer: string;
  readonly apiAudiences: readonly string[];
  readonly #deps: ServiceAccountTokensDeps;
  readonly #keys: readonly VerificationKey[];
  /** Verified signatures (token → claims), so a busy client pays one verification. */
  readonly #verified = new Map<string, Record<string, unknown>>();

  constructor(deps: ServiceAccountTokensDeps) {
    this.#deps = deps;
    this.issuer = deps.issuer ?? defaultServiceAccountIssuer;
    this.apiAudiences = deps.apiAudiences ?? [this.issuer];
    this.#keys = [deps.signingKey];
  }

  /** The public keys tokens are verified with (the JWKS). */
  get verificationKeys(): readonly VerificationKey[] {
    return this.#keys;
  }

  /** A signed token and its expiry (ms since the epoch). */
  issue(input: TokenIssue): { readonly token: string; readonly expiresAtMs: number } {
    const nowS = Math.floor(this.#deps.clock.now() / 1000);
    const exp = nowS + input.expirationSeconds;
    const k8s: Record<string, unknown> = {
      namespace: input.namespace,
      ...(input.node ? { node: { name: input.node.name, uid: input.node.uid } } : {}),
      ...(input.bound?.kind === 'Pod' ? { pod: { ...input.bound.ref } } : {}),
      ...(input.bound?.kind === 'Secret' ? { secret: { ...input.bound.ref } } : {}),
      serviceaccount: { name: input.serviceAccount.name, uid: input.serviceAccount.uid },
    };
    const claims = {
      aud: [...input.audiences],
      exp,
      iat: nowS,
      iss: this.issuer,
      jti: randomUUID(),
      'kubernetes.io': k8s,
      nbf: nowS,
      sub: serviceAccountUsername(input.namespace, input.serviceAccount.name),
    };
    return { token: signJwt(this.#deps.signingKey, claims), expiresAtMs: exp * 1000 };
  }

  /** Whether `token` is one of ours at all (signed by our key, our issuer): cheap after the first time. */
  #claimsOf(token: string): Record<string, unknown> | undefined {
    const hit = this.#verified.get(token);
    if (hit) return hit;
    const claims = verifyJwt(this.#keys, token);
    if (!claims || claims['iss'] !== this.issuer) return undefined;
    if (this.#verified.size >= maxVerified) this.#verified.clear();
    this.#verified.set(token, claims);
    return claims;
  }

  /**
   * Validates `token` for `audiences` (default the server's own).
   * @returns undefined when the token is not a service-account token of this server (another
   *   authenticator may know it); otherwise the user or why it is refused.
   */
  async validate(token: string, audiences?: readonly string[]): Promise<TokenVerdict | undefined> {
    const claims = this.#claimsOf(token);
    if (!claims) return undefined;
    const refuse = (error: string, detail: string): TokenVerdict => {
      this.#deps.log.debug('Refused a service-account token', { reason: detail, sub: claims['sub'] });
      return { isValid: false, error };
    };
    const nowS = this.#deps.clock.now() / 1000;
    const exp = claims['exp'];
    const nbf = claims['nbf'];
    if (typeof exp !== 'number' || nowS > exp + leewaySeconds) {
      return refuse('service account token has expired', 'expired');
    }
    if (typeof nbf === 'number' && nowS < nbf - leewaySeconds) {
      return refuse('service account token is not valid yet', 'not yet valid');
    }
    const aud = Array.isArray(claims['aud'])
      ? claims['aud'].filter((a): a is string => typeof a === 'string')
      : typeof claims['aud'] === 'string'
        ? [claims['aud']]
        : [];
    const wanted = audiences && audiences.length > 0 ? audiences : this.apiAudiences;
    const matched = aud.filter((a) => wanted.includes(a));
    if (matched.length === 0) {
      return refuse(
        `token audiences ${JSON.stringify(aud)} is invalid for the target audiences ${JSON.stringify(wanted)}`,
        'audience',
      );
    }
    const k8s = claims['kubernetes.io'];
    const sa = isRecord(k8s) ? refOf(k8s['serviceaccount']) : undefined;
    if (!isRecord(k8s) || typeof k8s['namespace'] !== 'string' || !sa) {
      return refuse('service account token claims are invalid', 'no kubernetes.io claims');
    }
    const priv: PrivateClaims = {
      namespace: k8s['namespace'],
      serviceaccount: sa,
      ...(refOf(k8s['pod']) ? { pod: refOf(k8s['pod']) as ObjectRef } : {}),
      ...(refOf(k8s['secret']) ? { secret: refOf(k8s['secret']) as ObjectRef } : {}),
      ...(refOf(k8s['node']) ? { node: refOf(k8s['node']) as ObjectRef } : {}),
    };
    if (claims['sub'] !== serviceAccountUsername(priv.namespace, sa.name)) {
      return refuse('service account token claims are invalid', 'sub does not match');
    }
    const invalidated = 'service account token has been invalidated';
    const checks: [DependentKind, ObjectRef, string | undefined][] = [
      ['ServiceAccount', sa, priv.namespace],
      ...(priv.pod ? [['Pod', priv.pod, priv.namespace] as [DependentKind, ObjectRef, string]] : []),
      ...(priv.secret ? [['Secret', priv.secret, priv.namespace] as [DependentKind, ObjectRef, string]] : []),
      // The node of a pod-bound token is information; a token bound to the node itself dies with it.
      ...(priv.node && !priv.pod && !priv.secret
        ? [['Node', priv.node, undefined] as [DependentKind, ObjectRef, undefined]]
        : []),
    ];
    for (const [kind, ref, namespace] of checks) {
      const obj = await this.#deps.objects.findCached(kind, namespace, ref.name);
      if (!obj) return refuse(invalidated, `${kind} "${namespace ?? ''}/${ref.name}" not found`);
      if (obj.metadata.uid !== ref.uid) return refuse(invalidated, `${kind} "${ref.name}" has another uid`);
      // A pod past its deletion grace period no longer vouches for its tokens.
      if (kind === 'Pod' && obj.metadata.deletionTimestamp) {
        const gone = Date.parse(obj.metadata.deletionTimestamp) / 1000;
        if (gone < nowS) return refuse(invalidated, 'pod is being deleted');
      }
    }
    const jti = typeof claims['jti'] === 'string' ? claims['jti'] : undefined;
    const extra: Record<string, string[]> = {};
    if (priv.pod) {
      extra['authentication.kubernetes.io/pod-name'] = [priv.pod.name];
      extra['authentication.kubernetes.io/pod-uid'] = [priv.pod.uid];
    }
    if (priv.node) {
      extra['authentication.kubernetes.io/node-name'] = [priv.node.name];
      extra['authentication.kubernetes.io/node-uid'] = [priv.node.uid];
    }
    if (jti) extra['authentication.kubernetes.io/credential-id'] = [`JTI=${jti}`];
    return {
      isValid: true,
      audiences: matched,
      user: {
        name: serviceAccountUsername(priv.namespace, sa.name),
        uid: sa.uid,
        groups: [serviceAccountGroups, `${serviceAccountGroups}:${priv.namespace}`, 'system:authenticated'],
        extra,
      },
    };
  }
}
