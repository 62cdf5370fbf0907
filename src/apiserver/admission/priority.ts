/**
 * Priority, the admission plugin that resolves a pod's priority (upstream
 * `plugin/pkg/admission/priority`): on create, `spec.priority` and `spec.preemptionPolicy` come
 * from the PriorityClass `spec.priorityClassName` names (403 `no PriorityClass with name X was
 * found` when there is none), or from the class marked `globalDefault` (the lowest, should
 * there be several), else priority 0. A pod that sets either field to another value than the
 * class gives is refused, as upstream refuses it. On update the stored values are carried over
 * (validation keeps them immutable). The two `system-` classes resolve even before bootstrap
 * has created their objects.
 *
 * It also keeps PriorityClasses to one `globalDefault` (upstream's plugin does that as well).
 */
import { systemPriorityClasses, type KubeObject, type Pod } from '../../api/index.js';
import type { Clock } from '../../lib/index.js';
import type { KeyValueStore } from '../../storage/index.js';
import { decodeShared } from '../registry/object-codec.js';
import { objectKey, resourcePrefix, type KeySpace } from '../registry/storage-key.js';
import { admissionForbidden } from './admission-forbidden.js';
import type { AdmissionFacts } from '../registry/kind-strategy.js';
import type { AdmissionAttributes, AdmissionRequest, MutatingAdmissionPlugin } from './admission-plugin.js';

export interface PriorityDeps {
  readonly store: KeyValueStore;
  readonly clock: Clock;
}

interface ResolvedClass {
  readonly name: string;
  readonly value: number;
  readonly preemptionPolicy: string | undefined;
}

const priorityClasses: KeySpace = {
  group: 'scheduling.k8s.io',
  resource: 'priorityclasses',
  namespaced: false,
};
/** How long the global default is reused before the classes are listed again. */
const defaultCacheMs = 1000;

type PriorityClassObject = KubeObject & {
  value?: number;
  globalDefault?: boolean;
  preemptionPolicy?: string;
};

export class Priority implements MutatingAdmissionPlugin {
  readonly name = 'Priority';
  // Most pods name no class and set no priority: their creates keep the write worker unless
  // `needsPreparedObject` says otherwise.
  readonly readsObject = false;
  readonly #store: KeyValueStore;
  readonly #clock: Clock;
  #defaultCache: { readonly atMs: number; readonly value: ResolvedClass | undefined } | undefined;

  constructor(deps: PriorityDeps) {
    this.#store = deps.store;
    this.#clock = deps.clock;
  }

  /** Creates and updates of pods; creates and updates of PriorityClasses. */
  handles(request: AdmissionRequest): boolean {
    if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') return false;
    if (request.subresource !== undefined) return false;
    return (
      (request.group === '' && request.resource === 'pods') ||
      (request.group === 'scheduling.k8s.io' && request.resource === 'priorityclasses')
    );
  }

  /**
   * A prepared create needs this plugin to see its object when it is a PriorityClass, or a pod
   * that names a class, sets a priority or a preemption policy, or would get the global default.
   */
  async needsPreparedObject(request: AdmissionRequest, facts: AdmissionFacts | undefined): Promise<boolean> {
    if (request.resource === 'priorityclasses') return true;
    if (!facts) return true;
    if (facts['priorityClassName'] !== undefined) return true;
    if (facts['priority'] !== undefined || facts['preemptionPolicy'] !== undefined) return true;
    return (await this.#globalDefault()) !== undefined;
  }

  /**
   * Without an object (a create a write worker prepared, see `needsPreparedObject`) there is
   * nothing to do: the pod's defaults (priority 0) are what this plugin would give it.
   * @throws Forbidden (no such class, a disagreeing priority, a second global default)
   */
  async admit(attributes: AdmissionAttributes): Promise<void> {
    if (attributes.resource === 'priorityclasses') return this.#admitClass(attributes);
    const pod = attributes.object as unknown as Pod | undefined;
    if (!pod) return;
    const spec = (pod.spec ??= {} as NonNullable<Pod['spec']>);
    if (attributes.operation === 'UPDATE') {
      const old = (attributes.oldObject as unknown as Pod | undefined)?.spec;
      if (spec.priority === undefined && old?.priority !== undefined) spec.priority = old.priority;
      if (spec.preemptionPolicy === undefined && old?.preemptionPolicy !== undefined)
        spec.preemptionPolicy = old.preemptionPolicy;
      return;
    }
    let resolved: ResolvedClass | undefined;
    if (!spec.priorityClassName) {
      resolved = await this.#globalDefault();
      if (resolved) spec.priorityClassName = resolved.name;
    } else {
      resolved = await this.#findClass(spec.priorityClassName);
      if (!resolved) {
        throw admissionForbidden(
          attributes,
          `no PriorityClass with name ${spec.priorityClassName} was found`,
        );
      }
    }
    const priority = resolved?.value ?? 0;
    // No class: the defaults give priority 0 (as a create prepared by a write worker gets it).
    if (!resolved && spec.priority === undefined) return;
    if (spec.priority !== undefined && spec.priority !== priority) {
      throw admissionForbidden(
        attributes,
        `the integer value of priority (${spec.priority}) must not be provided in pod spec; priority admission controller computed ${priority} from the given PriorityClass name`,
      );
    }
    spec.priority = priority;
    const policy = resolved?.preemptionPolicy;
    if (policy !== undefined) {
      if (spec.preemptionPolicy !== undefined && spec.preemptionPolicy !== policy) {
        throw admissionForbidden(
          attributes,
          `the string value of PreemptionPolicy (${spec.preemptionPolicy}) must not be provided in pod spec; priority admission controller computed ${policy} from the given PriorityClass name`,
        );
      }
      spec.preemptionPolicy = policy;
    }
  }

  /** One `globalDefault` class at most (upstream's message). */
  async #admitClass(attributes: AdmissionAttributes): Promise<void> {
    const pc = attributes.object as PriorityClassObject | undefined;
    if (!pc?.globalDefault) return;
    const others = await this.#listClasses();
    const other = others.find((o) => o.globalDefault === true && o.metadata.name !== pc.metadata.name);
    if (other) {
      throw admissionForbidden(
        attributes,
        `PriorityClass ${other.metadata.name ?? ''} is already marked as default. Only one default can exist`,
      );
    }
  }

  async #findClass(name: string): Promise<ResolvedClass | undefined> {
    const kv = await this.#store.find(objectKey(priorityClasses, undefined, name, 'priorityclasses'));
    if (kv) {
      const pc = decodeShared(kv) as PriorityClassObject;
      return { name, value: pc.value ?? 0, preemptionPolicy: pc.preemptionPolicy ?? 'PreemptLowerPriority' };
    }
    const builtIn = systemPriorityClasses.find((c) => c.name === name);
    return builtIn ? { name, value: builtIn.value, preemptionPolicy: 'PreemptLowerPriority' } : undefined;
  }

  async #listClasses(): Promise<PriorityClassObject[]> {
    const page = await this.#store.list(resourcePrefix(priorityClasses));
    return page.items.map((kv) => decodeShared(kv) as PriorityClassObject);
  }

  /** The global default class (the lowest value of several), cached for a second. */
  async #globalDefault(): Promise<ResolvedClass | undefined> {
    const now = this.#clock.now();
    const cached = this.#defaultCache;
    if (cached && now - cached.atMs < defaultCacheMs) return cached.value;
    let best: ResolvedClass | undefined;
    for (const pc of await this.#listClasses()) {
      if (pc.globalDefault !== true) continue;
      const value = pc.value ?? 0;
      if (!best || value < best.value) {
        best = {
          name: pc.metadata.name ?? '',
          value,
          preemptionPolicy: pc.preemptionPolicy ?? 'PreemptLowerPriority',
        };
      }
    }
    this.#defaultCache = { atMs: now, value: best };
    return best;
  }
}
