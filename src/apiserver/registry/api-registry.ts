/**
 * All served resources, looked up by group/version/resource or by kind, plus what spans
 * kinds: namespace lifecycle admission (objects need an existing, non-terminating namespace)
 * and the bootstrap namespaces every cluster has.
 */
import { randomUUID, randomInt } from 'node:crypto';
import type { KindDefinition } from '../../api/index.js';
import { isAlreadyExists, notFound, type Clock, type Logger } from '../../lib/index.js';
import type { KeyValueStore } from '../../storage/index.js';
import { decodeObject } from './object-codec.js';
import { NamespaceCache } from './namespace-cache.js';
import { ResourceRegistry } from './resource-registry.js';
import { resourcePrefix } from './storage-key.js';
import type { WriteContext } from './operation-options.js';

export interface ApiRegistryDeps {
  readonly store: KeyValueStore;
  readonly clock: Clock;
  readonly log: Logger;
  readonly kinds: readonly KindDefinition[];
  /** Random sources, injectable for tests. */
  readonly newUid?: () => string;
  readonly nameSuffix?: () => string;
}

/** Namespaces every cluster starts with. */
export const bootstrapNamespaces = ['default', 'kube-system', 'kube-public', 'kube-node-lease'] as const;

/** Upstream's generateName alphabet: no vowels, no look-alike characters. */
const suffixAlphabet = 'bcdfghjklmnpqrstvwxz2456789';

export function randomNameSuffix(): string {
  let s = '';
  for (let i = 0; i < 5; i++) s += suffixAlphabet[randomInt(suffixAlphabet.length)];
  return s;
}

function terminating(reg: ResourceRegistry, namespace: string, name: string): Error {
  return reg.forbiddenError(
    name,
    `unable to create new content in namespace ${namespace} because it is being terminated`,
    [
      {
        reason: 'NamespaceTerminating',
        message: `namespace ${namespace} is being terminated`,
        field: 'metadata.namespace',
      },
    ],
  );
}

export class ApiRegistry {
  readonly #byPath = new Map<string, ResourceRegistry>();
  readonly #byKind = new Map<string, ResourceRegistry>();
  readonly #all: ResourceRegistry[] = [];
  readonly #store: KeyValueStore;
  readonly #log: Logger;
  readonly #clock: Clock;
  #namespaceCache: NamespaceCache | undefined;

  constructor(deps: ApiRegistryDeps) {
    this.#store = deps.store;
    this.#log = deps.log;
    this.#clock = deps.clock;
    const common = {
      store: deps.store,
      clock: deps.clock,
      log: deps.log,
      newUid: deps.newUid ?? randomUUID,
      nameSuffix: deps.nameSuffix ?? randomNameSuffix,
      admitNamespace: (ns: string, reg: ResourceRegistry, name: string) =>
        this.#admitNamespace(ns, reg, name),
    };
    for (const def of deps.kinds) {
      const reg = new ResourceRegistry(def, common);
      const path = `${def.group}/${def.version}/${def.plural}`;
      if (this.#byPath.has(path)) throw new Error(`Kind ${def.kind}: resource "${path}" is defined twice`);
      this.#byPath.set(path, reg);
      this.#byKind.set(`${def.group}/${def.kind}`, reg);
      this.#all.push(reg);
    }
  }

  /** Every registry, in definition order. */
  all(): readonly ResourceRegistry[] {
    return this.#all;
  }

  find(group: string, version: string, resource: string): ResourceRegistry | undefined {
    return this.#byPath.get(`${group}/${version}/${resource}`);
  }

  findKind(group: string, kind: string): ResourceRegistry | undefined {
    return this.#byKind.get(`${group}/${kind}`);
  }

  get namespaces(): ResourceRegistry | undefined {
    return this.findKind('', 'Namespace');
  }

  /**
   * Keeps the namespace cache for admission current until `signal` aborts (resolves then).
   * Without it every create reads its namespace from the store.
   */
  runNamespaceCache(signal: AbortSignal): Promise<void> {
    const namespaces = this.namespaces;
    if (!namespaces) return Promise.resolve();
    const cache = new NamespaceCache({
      store: this.#store,
      prefix: resourcePrefix(namespaces.keys),
      log: this.#log,
      clock: this.#clock,
    });
    this.#namespaceCache = cache;
    return cache.run(signal).finally(() => {
      if (this.#namespaceCache === cache) this.#namespaceCache = undefined;
    });
  }

  async #admitNamespace(namespace: string, reg: ResourceRegistry, name: string): Promise<void> {
    const namespaces = this.namespaces;
    if (!namespaces) return;
    const cached = this.#namespaceCache?.phaseOf(namespace);
    if (cached === 'Active') return;
    if (cached === 'Terminating') throw terminating(reg, namespace, name);
    const kv = await this.#store.find(namespaces.key(undefined, namespace)).catch((err: unknown) => {
      if ((err as { code?: string }).code === 'NotFound') return undefined;
      throw err;
    });
    if (!kv) {
      throw notFound(`namespaces "${namespace}" not found`, {
        details: { name: namespace, group: '', kind: 'namespaces' },
      });
    }
    const ns = decodeObject(kv);
    const phase = (ns['status'] as { phase?: unknown } | undefined)?.phase;
    if (ns.metadata.deletionTimestamp !== undefined || phase === 'Terminating') {
      throw terminating(reg, namespace, name);
    }
  }

  /** Creates the bootstrap namespaces that are missing (idempotent). */
  async ensureBootstrapNamespaces(): Promise<void> {
    const namespaces = this.namespaces;
    if (!namespaces) return;
    const ctx: WriteContext = {
      user: 'system:apiserver',
      dryRun: false,
      fieldManager: 'h8s-apiserver',
      fieldValidation: 'Strict',
      warnings: [],
    };
    for (const name of bootstrapNamespaces) {
      try {
        await namespaces.create(undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } }, ctx);
        this.#log.info('Created namespace', { namespace: name });
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
      }
    }
  }
}
