/**
 * The indexed, read-only object cache behind informers (client-go's Indexer/ThreadSafeStore).
 *
 * Keys are `namespace/name` for namespaced objects and `name` for cluster-scoped ones. Objects
 * are deep-frozen when they enter: readers must copy before they change anything (STYLE.md),
 * and an accidental write throws instead of corrupting the cache.
 */
import type { KubeObject } from '../api/index.js';
import { badRequest } from '../lib/index.js';

/** Values an object is indexed under (may be empty). */
export type IndexFunc<T extends KubeObject> = (obj: T) => readonly string[];

/** Read access to a cache; what informers hand out. */
export interface ObjectCacheReader<T extends KubeObject> {
  readonly size: number;
  /** The object with this key, if cached. */
  find(key: string): T | undefined;
  /** The object `namespace/name` (namespace undefined for cluster-scoped objects). */
  findByName(namespace: string | undefined, name: string): T | undefined;
  list(): T[];
  keys(): string[];
  /** Objects whose index `indexName` contains `value`. @throws BadRequest for an unknown index. */
  listByIndex(indexName: string, value: string): T[];
  /** Objects in `namespace`. */
  listByNamespace(namespace: string): T[];
  /** Objects with an ownerReference to `uid`. */
  listByOwnerUid(uid: string): T[];
}

export const namespaceIndex = 'namespace';
export const ownerUidIndex = 'ownerUid';

/** `namespace/name` or `name` (client-go's MetaNamespaceKeyFunc). */
export function objectKey(obj: Pick<KubeObject, 'metadata'>): string {
  const { namespace, name } = obj.metadata;
  return namespace ? `${namespace}/${name ?? ''}` : (name ?? '');
}

/** The inverse of `objectKey`. */
export function splitObjectKey(key: string): { namespace: string | undefined; name: string } {
  const slash = key.indexOf('/');
  return slash < 0
    ? { namespace: undefined, name: key }
    : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

/** Freezes `value` and everything it holds. */
export function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  Object.freeze(value);
  for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v);
  return value;
}

export class ObjectCache<T extends KubeObject> implements ObjectCacheReader<T> {
  readonly #items = new Map<string, T>();
  readonly #indexers = new Map<string, IndexFunc<T>>();
  /** index name → value → keys */
  readonly #indices = new Map<string, Map<string, Set<string>>>();

  constructor() {
    this.addIndexer(namespaceIndex, (o) => (o.metadata.namespace ? [o.metadata.namespace] : []));
    this.addIndexer(ownerUidIndex, (o) => (o.metadata.ownerReferences ?? []).map((r) => r.uid));
  }

  get size(): number {
    return this.#items.size;
  }

  /** Adds an index; existing objects are indexed at once. @throws BadRequest if the name is taken. */
  addIndexer(name: string, fn: IndexFunc<T>): void {
    if (this.#indexers.has(name)) throw badRequest(`Index "${name}" already exists`);
    this.#indexers.set(name, fn);
    const index = new Map<string, Set<string>>();
    this.#indices.set(name, index);
    for (const [key, obj] of this.#items) this.#indexOne(index, fn, key, obj);
  }

  find(key: string): T | undefined {
    return this.#items.get(key);
  }

  findByName(namespace: string | undefined, name: string): T | undefined {
    return this.#items.get(namespace ? `${namespace}/${name}` : name);
  }

  list(): T[] {
    return [...this.#items.values()];
  }

  keys(): string[] {
    return [...this.#items.keys()];
  }

  listByIndex(indexName: string, value: string): T[] {
    const index = this.#indices.get(indexName);
    if (!index) throw badRequest(`Unknown index "${indexName}"`);
    const keys = index.get(value);
    if (!keys) return [];
    const out: T[] = [];
    for (const k of keys) {
      const obj = this.#items.get(k);
      if (obj) out.push(obj);
    }
    return out;
  }

  listByNamespace(namespace: string): T[] {
    return this.listByIndex(namespaceIndex, namespace);
  }

  listByOwnerUid(uid: string): T[] {
    return this.listByIndex(ownerUidIndex, uid);
  }

  /** Stores `obj` (frozen) and returns what it replaced. */
  upsert(obj: T): T | undefined {
    const key = objectKey(obj);
    const old = this.#items.get(key);
    if (old) this.#unindex(key, old);
    deepFreeze(obj);
    this.#items.set(key, obj);
    for (const [name, fn] of this.#indexers)
      this.#indexOne(this.#indices.get(name) as Map<string, Set<string>>, fn, key, obj);
    return old;
  }

  /** Removes the object with `key`; returns it. */
  remove(key: string): T | undefined {
    const old = this.#items.get(key);
    if (!old) return undefined;
    this.#unindex(key, old);
    this.#items.delete(key);
    return old;
  }

  #indexOne(index: Map<string, Set<string>>, fn: IndexFunc<T>, key: string, obj: T): void {
    for (const value of fn(obj)) {
      let keys = index.get(value);
      if (!keys) index.set(value, (keys = new Set()));
      keys.add(key);
    }
  }

  #unindex(key: string, obj: T): void {
    for (const [name, fn] of this.#indexers) {
      const index = this.#indices.get(name) as Map<string, Set<string>>;
      for (const value of fn(obj)) {
        const keys = index.get(value);
        if (!keys) continue;
        keys.delete(key);
        if (keys.size === 0) index.delete(value);
      }
    }
  }
}
