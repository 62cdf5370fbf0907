/**
 * Deleting objects (upstream's `Store.Delete` and `DeleteCollection`): preconditions, graceful
 * deletion (the strategy's grace period: pods on a node), the garbage collector's finalizers
 * from `propagationPolicy` (Foreground adds `foregroundDeletion`, Orphan adds `orphan`,
 * Background removes both), finalizers that keep an object with a `deletionTimestamp` until the
 * write that clears the last one, and the strategy's pending finalization (a namespace's
 * `spec.finalizers`). Deletes pass admission as DELETE with the stored object.
 */
import type { KindDefinition, KubeObject } from '../../api/index.js';
import { formatTime } from '../../api/index.js';
import { invalid, isNotFound, type Clock, type H8sError } from '../../lib/index.js';
import type { KeyValue, KeyValueStore } from '../../storage/index.js';
import type { AdmissionChain } from '../admission/admission-chain.js';
import type { AdmissionAttributes, AdmissionOperation, WriteOutcome } from '../admission/admission-plugin.js';
import { jsonEqual } from '../patch/json-patch.js';
import type { KindStrategy } from './kind-strategy.js';
import { decodeObject, encodeObject } from './object-codec.js';
import type { DeleteOptions, ListOptions, PropagationPolicy, WriteContext } from './operation-options.js';

export interface DeleteResult {
  /** The last state (deleted) or the object now pending deletion. */
  readonly object: KubeObject;
  /** True when the object is gone; false when deletion waits for finalizers or grace. */
  readonly deleted: boolean;
}

/** What deletion needs of its registry. */
export interface DeletableResource {
  readonly def: KindDefinition;
  readonly strategy: KindStrategy;
  /** The stored object. @throws NotFound */
  getStored(namespace: string | undefined, name: string): Promise<{ key: string; kv: KeyValue }>;
  list(namespace: string | undefined, options: ListOptions): Promise<{ readonly items: KubeObject[] }>;
  admissionAttributes(
    operation: AdmissionOperation,
    namespace: string | undefined,
    name: string,
    ctx: WriteContext,
    object: KubeObject | undefined,
    oldObject: Readonly<KubeObject> | undefined,
    subresource?: string,
  ): AdmissionAttributes;
  notFoundError(name: string): H8sError;
  conflictError(name: string, why?: string): H8sError;
}

export interface ResourceDeletionDeps {
  readonly store: KeyValueStore;
  readonly clock: Clock;
  readonly admission: AdmissionChain;
  /** Lost compare-and-swaps are retried this often before answering Conflict. */
  readonly maxWriteAttempts: number;
}

const gcFinalizers = { orphan: 'orphan', foreground: 'foregroundDeletion' } as const;

export class ResourceDeletion {
  readonly #target: DeletableResource;
  readonly #deps: ResourceDeletionDeps;

  constructor(target: DeletableResource, deps: ResourceDeletionDeps) {
    this.#target = target;
    this.#deps = deps;
  }

  /**
   * Deletes the object, or starts its deletion when finalizers (including the garbage
   * collector's, from `propagationPolicy`) or a grace period must run first.
   * @throws NotFound, Conflict (preconditions), Invalid (bad options), an admission refusal.
   */
  async delete(
    namespace: string | undefined,
    name: string,
    options: DeleteOptions,
    ctx: WriteContext,
  ): Promise<DeleteResult> {
    const target = this.#target;
    const policy = propagationPolicyOf(options);
    for (let attempt = 0; ; attempt++) {
      const { key, kv } = await target.getStored(namespace, name);
      const live = decodeObject(kv);
      this.#checkPreconditions(live, options);
      const attributes = target.admissionAttributes('DELETE', namespace, name, ctx, undefined, live);
      const finish = await this.#deps.admission.admit(attributes);
      const done: { outcome: WriteOutcome } = { outcome: 'refused' };
      let result: DeleteResult | 'conflict';
      try {
        result = await this.#deleteAdmitted(key, kv, live, options, ctx, attributes, policy, attempt, done);
      } finally {
        await finish(done.outcome);
      }
      if (result !== 'conflict') return result;
    }
  }

  /** One attempt of `delete` after mutating admission; sets `done.outcome` when it writes. */
  async #deleteAdmitted(
    key: string,
    kv: KeyValue,
    live: KubeObject,
    options: DeleteOptions,
    ctx: WriteContext,
    attributes: AdmissionAttributes,
    policy: PropagationPolicy | undefined,
    attempt: number,
    done: { outcome: WriteOutcome },
  ): Promise<DeleteResult | 'conflict'> {
    const target = this.#target;
    const strategy = target.strategy;
    const store = this.#deps.store;
    const name = live.metadata.name as string;
    await this.#deps.admission.validate(attributes);
    const next = structuredClone(live);
    const meta = next.metadata;
    const nowMs = this.#deps.clock.now();

    // Graceful deletion (pods on a node).
    const grace = strategy.gracePeriodSeconds?.(next, options.gracePeriodSeconds) ?? 0;
    let pendingGrace = false;
    if (meta.deletionTimestamp !== undefined && (meta.deletionGracePeriodSeconds ?? 0) > 0) {
      const current = meta.deletionGracePeriodSeconds as number;
      if (options.gracePeriodSeconds !== undefined && grace < current) {
        const started = Date.parse(meta.deletionTimestamp) - current * 1000;
        meta.deletionTimestamp = formatTime(started + grace * 1000);
        meta.deletionGracePeriodSeconds = grace;
        pendingGrace = grace > 0;
      } else {
        return { object: live, deleted: false };
      }
    } else if (meta.deletionTimestamp === undefined && grace > 0) {
      meta.deletionTimestamp = formatTime(nowMs + grace * 1000);
      meta.deletionGracePeriodSeconds = grace;
      pendingGrace = true;
    }

    // Garbage-collection finalizers from the propagation policy.
    const finalizers = new Set(meta.finalizers ?? []);
    if (policy === 'Foreground') {
      finalizers.delete(gcFinalizers.orphan);
      finalizers.add(gcFinalizers.foreground);
    } else if (policy === 'Orphan') {
      finalizers.delete(gcFinalizers.foreground);
      finalizers.add(gcFinalizers.orphan);
    } else if (policy === 'Background') {
      finalizers.delete(gcFinalizers.orphan);
      finalizers.delete(gcFinalizers.foreground);
    }
    const blocked = strategy.hasPendingFinalization?.(next) ?? false;
    if (
      blocked &&
      live.metadata.deletionTimestamp !== undefined &&
      strategy.deleteWhilePendingMessage !== undefined
    ) {
      throw target.conflictError(name, strategy.deleteWhilePendingMessage);
    }
    if (finalizers.size > 0 || blocked || pendingGrace) {
      if (finalizers.size > 0) meta.finalizers = [...finalizers];
      else delete meta.finalizers;
      if (meta.deletionTimestamp === undefined) {
        meta.deletionTimestamp = formatTime(nowMs);
        meta.deletionGracePeriodSeconds = 0;
      }
      if (live.metadata.deletionTimestamp === undefined) {
        strategy.onDeletionStarted?.(next);
        if (target.def.tracksGeneration && meta.generation !== undefined) meta.generation += 1;
      }
      if (jsonEqual(next, live)) return { object: live, deleted: false };
      if (ctx.dryRun) return { object: next, deleted: false };
      const result = await store.update(key, encodeObject(next), kv.modRevision);
      if (result.ok) {
        done.outcome = 'stored';
        next.metadata.resourceVersion = String(result.kv.modRevision);
        return { object: next, deleted: false };
      }
      if (result.reason === 'notFound') throw target.notFoundError(name);
      if (attempt >= this.#deps.maxWriteAttempts) throw target.conflictError(name);
      return 'conflict';
    }

    if (ctx.dryRun) return { object: live, deleted: true };
    const result = await store.delete(key, kv.modRevision);
    if (result.ok) {
      done.outcome = 'deleted';
      return { object: live, deleted: true };
    }
    if (result.reason === 'notFound') throw target.notFoundError(name);
    if (attempt >= this.#deps.maxWriteAttempts) throw target.conflictError(name);
    return 'conflict';
  }

  /** Deletes every object the list options select; returns what was deleted or is being deleted. */
  async deleteCollection(
    namespace: string | undefined,
    listOptions: ListOptions,
    options: DeleteOptions,
    ctx: WriteContext,
  ): Promise<KubeObject[]> {
    const { items } = await this.#target.list(namespace, { ...listOptions, limit: 0 });
    const out: KubeObject[] = [];
    for (const item of items) {
      try {
        const r = await this.delete(item.metadata.namespace, item.metadata.name as string, options, ctx);
        out.push(r.object);
      } catch (err) {
        if (isNotFound(err)) continue;
        throw err;
      }
    }
    return out;
  }

  #checkPreconditions(live: KubeObject, options: DeleteOptions): void {
    const pre = options.preconditions;
    if (!pre) return;
    const name = live.metadata.name as string;
    if (pre.uid !== undefined && pre.uid !== live.metadata.uid) {
      throw this.#target.conflictError(
        name,
        `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${live.metadata.uid ?? ''}`,
      );
    }
    if (pre.resourceVersion !== undefined && pre.resourceVersion !== live.metadata.resourceVersion) {
      throw this.#target.conflictError(
        name,
        `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${live.metadata.resourceVersion ?? ''}`,
      );
    }
  }
}

/** The policy `options` ask for (`orphanDependents` is the legacy spelling). @throws Invalid */
function propagationPolicyOf(options: DeleteOptions): PropagationPolicy | undefined {
  if (options.orphanDependents !== undefined && options.propagationPolicy !== undefined) {
    throw invalid(
      'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Invalid value: orphanDependents and deletionPropagation cannot be both set',
      {
        details: {
          group: 'meta.k8s.io',
          kind: 'DeleteOptions',
          causes: [
            {
              reason: 'FieldValueInvalid',
              field: 'propagationPolicy',
              message: 'Invalid value: orphanDependents and deletionPropagation cannot be both set',
            },
          ],
        },
      },
    );
  }
  if (options.orphanDependents !== undefined) return options.orphanDependents ? 'Orphan' : 'Background';
  return options.propagationPolicy;
}
