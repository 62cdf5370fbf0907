/**
 * All served resources, looked up by group/version/resource or by kind, plus the bootstrap
 * namespaces every cluster has. The admission plugins (namespace lifecycle among them) come in
 * with `admission` and run on every write of every registry.
 */
import { randomUUID, randomInt } from 'node:crypto';
import type { KindDefinition } from '../../api/index.js';
import { isAlreadyExists, type Clock, type Logger } from '../../lib/index.js';
import type { KeyValueStore } from '../../storage/index.js';
import { AdmissionChain } from '../admission/admission-chain.js';
import { apiserverUser } from '../filters/user-info.js';
import { ResourceRegistry } from './resource-registry.js';
import type { WriteContext } from './operation-options.js';

export interface ApiRegistryDeps {
  readonly store: KeyValueStore;
  readonly clock: Clock;
  readonly log: Logger;
  readonly kinds: readonly KindDefinition[];
  /** The admission plugins; none without it. */
  readonly admission?: AdmissionChain;
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

export class ApiRegistry {
  readonly #byPath = new Map<string, ResourceRegistry>();
  readonly #byKind = new Map<string, ResourceRegistry>();
  readonly #all: ResourceRegistry[] = [];
  readonly #log: Logger;

  constructor(deps: ApiRegistryDeps) {
    this.#log = deps.log;
    const common = {
      store: deps.store,
      clock: deps.clock,
      log: deps.log,
      newUid: deps.newUid ?? randomUUID,
      nameSuffix: deps.nameSuffix ?? randomNameSuffix,
      admission: deps.admission ?? new AdmissionChain(),
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

  /** Creates the bootstrap namespaces that are missing (idempotent). */
  async ensureBootstrapNamespaces(): Promise<void> {
    const namespaces = this.namespaces;
    if (!namespaces) return;
    const ctx: WriteContext = {
      user: apiserverUser,
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
