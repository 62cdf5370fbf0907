/**
 * The write pipeline the apiserver runs for one object, reduced to pure steps, for tests of
 * kinds (here and in other modules): drop nulls, find unknown fields, schema check, system
 * metadata, defaults, metadata + kind validation. It mirrors the order documented in
 * `kind-definition.ts`; the apiserver owns the real one.
 */
import { matchesSchema, schemaCauses, type StatusCause } from '../../lib/index.js';
import type { KindDefinition, KubeObject } from '../kind-definition.js';
import { validateObjectMeta, validateObjectMetaUpdate } from '../meta/v1/object-meta.js';
import { dropNullFields, findUnknownFields } from '../schema/unknown-fields.js';

export interface AdmissionResult {
  readonly object: KubeObject;
  readonly unknownFields: readonly string[];
  readonly schemaCauses: readonly StatusCause[];
  readonly causes: readonly StatusCause[];
}

export interface AdmissionOptions {
  readonly nowMs?: number;
  readonly old?: KubeObject;
  readonly namespace?: string;
  readonly uid?: string;
}

/** Runs `manifest` (not modified) through the create or update pipeline of `def`. */
export function admit(def: KindDefinition, manifest: unknown, opts: AdmissionOptions = {}): AdmissionResult {
  const nowMs = opts.nowMs ?? Date.UTC(2024, 0, 1);
  const obj = structuredClone(manifest) as KubeObject;
  dropNullFields(obj);
  const unknownFields = findUnknownFields(def.schema, obj);
  // As the apiserver: the compiled check first, the (slow) error walk only on failure.
  const sCauses = matchesSchema(def.schema, obj) ? [] : schemaCauses(def.schema, obj);
  if (sCauses.length > 0) return { object: obj, unknownFields, schemaCauses: sCauses, causes: [] };
  obj.metadata ??= {};
  const operation = opts.old ? 'update' : 'create';
  if (def.namespaced && !obj.metadata.namespace) obj.metadata.namespace = opts.namespace ?? 'default';
  if (opts.old) {
    obj.metadata.uid ??= opts.old.metadata.uid as string;
    obj.metadata.creationTimestamp ??= opts.old.metadata.creationTimestamp as string;
  } else {
    obj.metadata.uid = opts.uid ?? '00000000-0000-4000-8000-000000000001';
    obj.metadata.creationTimestamp = new Date(nowMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
    if (def.tracksGeneration) obj.metadata.generation = 1;
  }
  const ctx = { operation, nowMs } as const;
  def.applyDefaults(obj, ctx);
  const causes = [
    ...validateObjectMeta(obj.metadata, {
      namespaced: def.namespaced,
      kind: def.kind,
      ...(def.nameRule ? { nameRule: def.nameRule } : {}),
    }),
    ...(opts.old ? validateObjectMetaUpdate(obj.metadata, opts.old.metadata) : []),
    ...def.validate(obj, opts.old, ctx),
  ];
  return { object: obj, unknownFields, schemaCauses: sCauses, causes };
}

/** The causes as `field: message` lines, for readable assertions. */
export function causeLines(result: AdmissionResult): string[] {
  return [...result.schemaCauses, ...result.causes].map((c) =>
    c.field ? `${c.field}: ${c.message}` : c.message,
  );
}
