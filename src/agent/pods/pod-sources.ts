/**
 * What pod workers read from the API besides the pod: ConfigMaps, Secrets, RuntimeClasses,
 * Services (for service links) and bound service-account tokens. Reads are cached for a few
 * seconds (kubelet's TTL cache strategy), so many containers of one pod or a burst of pods cost
 * one request per object; a changed ConfigMap reaches a volume after at most the TTL plus the
 * volume refresh period.
 */
import type { ConfigMap, KubeObject, Pod, RuntimeClass, Secret, Service } from '../../api/index.js';
import { builtinResources, type ApiClient } from '../../client/index.js';
import { unavailable, type Clock } from '../../lib/index.js';
import type { ServiceAccountToken } from '../volumes/volume-payload.js';

export interface PodSourcesOptions {
  readonly client: ApiClient;
  readonly clock: Clock;
  /** Cache lifetime; default 5 s. */
  readonly ttlMs?: number;
}

export class PodSources {
  readonly #client: ApiClient;
  readonly #clock: Clock;
  readonly #ttlMs: number;
  readonly #cache = new Map<string, { atMs: number; value: Promise<unknown> }>();
  /** Tokens by pod uid, account, audience and lifetime, until 80 % of their lifetime (kubelet's token manager). */
  readonly #tokens = new Map<string, ServiceAccountToken & { readonly refreshAtMs: number }>();

  constructor(options: PodSourcesOptions) {
    this.#client = options.client;
    this.#clock = options.clock;
    this.#ttlMs = options.ttlMs ?? 5_000;
  }

  #cached<T>(key: string, load: () => Promise<T>): Promise<T> {
    const now = this.#clock.monotonicMs();
    const hit = this.#cache.get(key);
    if (hit && now - hit.atMs < this.#ttlMs) return hit.value as Promise<T>;
    const value = load();
    this.#cache.set(key, { atMs: now, value });
    // A failed read is not cached: the next caller asks again.
    value.catch(() => this.#cache.delete(key));
    if (this.#cache.size > 4096) {
      for (const [k, v] of this.#cache) if (now - v.atMs >= this.#ttlMs) this.#cache.delete(k);
    }
    return value;
  }

  findConfigMap(namespace: string, name: string): Promise<ConfigMap | undefined> {
    return this.#cached(`cm/${namespace}/${name}`, () =>
      this.#client.resource<ConfigMap & KubeObject>(builtinResources.configMaps, namespace).find(name),
    );
  }

  findSecret(namespace: string, name: string): Promise<Secret | undefined> {
    return this.#cached(`secret/${namespace}/${name}`, () =>
      this.#client.resource<Secret & KubeObject>(builtinResources.secrets, namespace).find(name),
    );
  }

  findRuntimeClass(name: string): Promise<RuntimeClass | undefined> {
    return this.#cached(`rc/${name}`, () =>
      this.#client.resource<RuntimeClass & KubeObject>(builtinResources.runtimeClasses).find(name),
    );
  }

  /** Services whose links a container of `pod` gets (see service-env.ts). */
  async servicesForLinks(pod: Pod): Promise<Service[]> {
    const namespace = pod.metadata?.namespace ?? 'default';
    const own =
      pod.spec?.enableServiceLinks === false
        ? []
        : await this.#cached(
            `svc/${namespace}`,
            async () =>
              (await this.#client.resource<Service & KubeObject>(builtinResources.services, namespace).list())
                .items,
          );
    const kubernetes = await this.#cached('svc/default/kubernetes', () =>
      this.#client.resource<Service & KubeObject>(builtinResources.services, 'default').find('kubernetes'),
    );
    const out = own.filter((s) => !(namespace === 'default' && s.metadata?.name === 'kubernetes'));
    if (kubernetes) out.push(kubernetes);
    return out;
  }

  /**
   * A token for the pod's service account, bound to the pod (TokenRequest:
   * `POST serviceaccounts/<name>/token`), so it dies with the pod. The same token is answered
   * until 80 % of its lifetime has passed (as kubelet's token manager), so the 30-s volume
   * refresh does not request a token each time; `refreshAtMs` says when a new one comes.
   */
  async requestToken(
    pod: Pod,
    audience: string | undefined,
    expirationSeconds: number,
  ): Promise<ServiceAccountToken> {
    const namespace = pod.metadata?.namespace ?? 'default';
    const sa = pod.spec?.serviceAccountName || 'default';
    const nowMs = this.#clock.now();
    const key = `${pod.metadata?.uid ?? ''}/${namespace}/${sa}/${audience ?? ''}/${expirationSeconds}`;
    const cached = this.#tokens.get(key);
    if (cached && nowMs < cached.refreshAtMs) return cached;
    for (const [k, t] of this.#tokens) if (t.expiresAtMs <= nowMs) this.#tokens.delete(k);
    const fresh = await this.#issueToken(pod, namespace, sa, audience, expirationSeconds);
    const token = { ...fresh, refreshAtMs: nowMs + Math.floor((fresh.expiresAtMs - nowMs) * 0.8) };
    this.#tokens.set(key, token);
    return token;
  }

  async #issueToken(
    pod: Pod,
    namespace: string,
    sa: string,
    audience: string | undefined,
    expirationSeconds: number,
  ): Promise<ServiceAccountToken> {
    const body = {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: {
        ...(audience ? { audiences: [audience] } : {}),
        expirationSeconds,
        boundObjectRef: {
          apiVersion: 'v1',
          kind: 'Pod',
          name: pod.metadata?.name ?? '',
          uid: pod.metadata?.uid ?? '',
        },
      },
    };
    const res = await this.#client
      .resource(builtinResources.serviceAccounts, namespace)
      .createSubresource<{ status?: { token?: string; expirationTimestamp?: string } }>(sa, 'token', body);
    const token = res.status?.token;
    const exp = Date.parse(res.status?.expirationTimestamp ?? '');
    if (!token || Number.isNaN(exp))
      throw unavailable(`TokenRequest for service account "${namespace}/${sa}" returned no token`);
    return { token, expiresAtMs: exp };
  }
}
