/**
 * Reads of the few core objects service accounts depend on (ServiceAccounts, Pods, Secrets,
 * Nodes) straight from the store, for the token authenticator and the ServiceAccount admission
 * plugin, which run below the registry. `findCached` remembers answers for a short time so a
 * busy client does not cost a store read per request; a deleted object stops authenticating
 * within that time.
 */
import type { KubeObject } from '../../api/index.js';
import type { Clock } from '../../lib/index.js';
import type { KeyValueStore } from '../../storage/index.js';
import { decodeObject } from '../registry/object-codec.js';
import { objectKey, type KeySpace } from '../registry/storage-key.js';

export type DependentKind = 'ServiceAccount' | 'Pod' | 'Secret' | 'Node';

const spaces: Readonly<Record<DependentKind, KeySpace>> = {
  ServiceAccount: { group: '', resource: 'serviceaccounts', namespaced: true },
  Pod: { group: '', resource: 'pods', namespaced: true },
  Secret: { group: '', resource: 'secrets', namespaced: true },
  Node: { group: '', resource: 'nodes', namespaced: false },
};

/** How long a cached answer is used; upstream's token authenticator reads from informers. */
const cacheTtlMs = 2_000;
const maxCached = 4_096;

export class StoredObjects {
  readonly #store: KeyValueStore;
  readonly #clock: Clock;
  readonly #cache = new Map<string, { readonly atMs: number; readonly object: KubeObject | undefined }>();

  constructor(deps: { readonly store: KeyValueStore; readonly clock: Clock }) {
    this.#store = deps.store;
    this.#clock = deps.clock;
  }

  /** The stored object, or undefined. @throws what the store throws */
  async find(
    kind: DependentKind,
    namespace: string | undefined,
    name: string,
  ): Promise<KubeObject | undefined> {
    const space = spaces[kind];
    let key: string;
    try {
      key = objectKey(space, namespace, name, space.resource);
    } catch {
      return undefined; // a name that cannot be stored names nothing
    }
    const kv = await this.#store.find(key);
    return kv ? decodeObject(kv) : undefined;
  }

  /** Like `find`, answered from the last few seconds' reads when possible. Read-only result. */
  async findCached(
    kind: DependentKind,
    namespace: string | undefined,
    name: string,
  ): Promise<Readonly<KubeObject> | undefined> {
    const key = `${kind}/${namespace ?? ''}/${name}`;
    const now = this.#clock.monotonicMs();
    const hit = this.#cache.get(key);
    if (hit && now - hit.atMs < cacheTtlMs) return hit.object;
    const object = await this.find(kind, namespace, name);
    if (this.#cache.size >= maxCached) this.#cache.clear();
    this.#cache.set(key, { atMs: now, object });
    return object;
  }
}
