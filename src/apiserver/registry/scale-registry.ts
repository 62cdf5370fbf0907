/**
 * The `scale` subresource of a kind that declares scale paths (upstream's `ScaleREST` for
 * deployments, replicasets, statefulsets): an autoscaling/v1 Scale read from the object
 * (`scaleOf`), and writes of a Scale (PUT) or of a patch of it (PATCH) that change only the
 * object's replicas, through the registry's guaranteed update (admission, validation,
 * managedFields of subresource `scale`, compare-and-swap).
 */
import { scaleOf, type KindDefinition, type KubeObject, type ScaleSubresource } from '../../api/index.js';
import { badRequest, invalid, isRecord, type H8sError } from '../../lib/index.js';
import type { KeyValue } from '../../storage/index.js';
import { trackUpdate, type FieldManagerScope } from '../patch/field-manager.js';
import { applyJsonPatch } from '../patch/json-patch.js';
import { applyMergePatch } from '../patch/merge-patch.js';
import { decodeObject } from './object-codec.js';
import type { PatchType, WriteContext } from './operation-options.js';

/** What the scale subresource needs of its registry. */
export interface ScalableResource {
  readonly def: KindDefinition;
  get(namespace: string | undefined, name: string): Promise<KubeObject>;
  /** @throws NotFound */
  getStored(namespace: string | undefined, name: string): Promise<{ key: string; kv: KeyValue }>;
  /** The registry's guaranteed-update step; 'conflict' when the compare-and-swap lost. */
  commitUpdate(
    key: string,
    kv: KeyValue,
    live: KubeObject,
    next: KubeObject,
    ctx: WriteContext,
    subresource: string | undefined,
    track: (next: KubeObject) => void,
  ): Promise<KubeObject | 'conflict'>;
  managedFieldsScope(subresource?: string): FieldManagerScope;
  conflictError(name: string, why?: string): H8sError;
  readonly maxWriteAttempts: number;
}

/** A Scale or a patch of one. */
export type ScaleChange =
  { readonly scale: unknown } | { readonly patchType: PatchType; readonly patch: unknown };

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.replace(/^\./, '').split('.');
  let cur = obj;
  for (const part of parts.slice(0, -1)) {
    const next = cur[part];
    if (isRecord(next)) cur = next;
    else {
      const fresh: Record<string, unknown> = {};
      cur[part] = fresh;
      cur = fresh;
    }
  }
  cur[parts[parts.length - 1] as string] = value;
}

export class ScaleRegistry {
  readonly #target: ScalableResource;
  readonly #paths: ScaleSubresource;

  constructor(target: ScalableResource, paths: ScaleSubresource) {
    this.#target = target;
    this.#paths = paths;
  }

  /** The Scale of the object. @throws NotFound */
  async get(namespace: string | undefined, name: string): Promise<KubeObject> {
    return this.toScale(await this.#target.get(namespace, name));
  }

  /** The Scale of an object of this kind. */
  toScale(obj: KubeObject): KubeObject {
    return scaleOf(this.#target.def, obj) as KubeObject;
  }

  /**
   * Sets the replicas from a Scale (PUT /scale) or from a patch of the Scale (PATCH /scale).
   * @throws NotFound, Conflict, BadRequest, Invalid, an admission refusal.
   */
  async update(
    namespace: string | undefined,
    name: string,
    change: ScaleChange,
    ctx: WriteContext,
  ): Promise<KubeObject> {
    const target = this.#target;
    for (let attempt = 0; ; attempt++) {
      const { key, kv } = await target.getStored(namespace, name);
      const live = decodeObject(kv);
      const current = this.toScale(live);
      let wanted: unknown;
      if ('scale' in change) wanted = change.scale;
      else if (change.patchType === 'json') wanted = applyJsonPatch(current, change.patch);
      else if (change.patchType === 'apply') wanted = applyMergePatch(current, change.patch);
      else {
        if (!isRecord(change.patch)) throw badRequest('The patch must be a JSON object');
        wanted = applyMergePatch(current, change.patch);
      }
      const replicas = this.#wantedReplicas(wanted, name);
      const rv =
        isRecord(wanted) && isRecord(wanted['metadata']) ? wanted['metadata']['resourceVersion'] : undefined;
      const isPinned = typeof rv === 'string' && rv !== '';
      if (isPinned && rv !== live.metadata.resourceVersion) throw target.conflictError(name);
      const next = structuredClone(live);
      setPath(next, this.#paths.specReplicasPath, replicas);
      const outcome = await target.commitUpdate(key, kv, live, next, ctx, 'scale', (n) =>
        trackUpdate(live, n, ctx.fieldManager, target.managedFieldsScope('scale')),
      );
      if (outcome !== 'conflict') return this.toScale(outcome);
      if (isPinned || attempt >= target.maxWriteAttempts) throw target.conflictError(name);
    }
  }

  /** The replicas a Scale asks for. @throws BadRequest, Invalid */
  #wantedReplicas(wanted: unknown, name: string): number {
    if (!isRecord(wanted) || (!isRecord(wanted['spec']) && wanted['spec'] !== undefined)) {
      throw badRequest('The Scale must be a JSON object with spec.replicas');
    }
    const meta = isRecord(wanted['metadata']) ? wanted['metadata'] : undefined;
    if (meta?.['name'] !== undefined && meta['name'] !== name) {
      throw badRequest(
        `the name of the object (${String(meta['name'])}) does not match the name on the URL (${name})`,
      );
    }
    const spec = isRecord(wanted['spec']) ? wanted['spec'] : undefined;
    const replicas = spec?.['replicas'] ?? 0;
    if (typeof replicas !== 'number' || !Number.isInteger(replicas)) {
      throw badRequest(
        'Scale in version "v1" cannot be handled as a Scale: spec.replicas must be an integer',
      );
    }
    if (replicas < 0) {
      throw invalid(
        `Scale.autoscaling "${name}" is invalid: spec.replicas: Invalid value: ${replicas}: must be greater than or equal to 0`,
        {
          details: {
            name,
            group: 'autoscaling',
            kind: 'Scale',
            causes: [
              {
                reason: 'FieldValueInvalid',
                field: 'spec.replicas',
                message: `Invalid value: ${replicas}: must be greater than or equal to 0`,
              },
            ],
          },
        },
      );
    }
    return replicas;
  }
}
