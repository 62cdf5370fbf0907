/**
 * Kind tests run the real write pipeline (`admitObject`, as the apiserver and its write
 * workers do) with fixed inputs: a fixed time, uid and generateName suffix, the namespace
 * `default` (or the manifest's), `fieldValidation=Strict` (so an unknown field is an error). `admit` never changes `manifest`
 * and never throws: it returns what the pipeline stored or threw.
 */
import { H8sError, type StatusCause } from '../../lib/index.js';
import { admitObject, type FieldValidation } from '../admission/admit-object.js';
import type { KindDefinition, KubeObject } from '../kind-definition.js';

export interface TestAdmissionOptions {
  readonly nowMs?: number;
  /** Admit as an update of `old` (the main resource unless `subresource` says otherwise). */
  readonly old?: KubeObject;
  readonly subresource?: 'status';
  readonly namespace?: string;
  readonly uid?: string;
  /** Default Strict: an unknown field is an error. */
  readonly fieldValidation?: FieldValidation;
}

export interface TestAdmission {
  /** The object the pipeline produced; reading it throws the pipeline's error when it failed. */
  readonly object: KubeObject;
  /** What the pipeline threw, if anything. */
  readonly error: H8sError | undefined;
  readonly warnings: readonly string[];
}

export const testAdmissionNowMs = Date.UTC(2024, 0, 1);
export const testAdmissionUid = '00000000-0000-4000-8000-000000000001';

/** Runs `manifest` (not modified) through the create or update pipeline of `def`. */
export function admit(
  def: KindDefinition,
  manifest: unknown,
  opts: TestAdmissionOptions = {},
): TestAdmission {
  const body = structuredClone(manifest);
  const fromManifest = (body as { metadata?: { namespace?: unknown } } | null)?.metadata?.namespace;
  const namespace = def.namespaced
    ? (opts.namespace ?? (typeof fromManifest === 'string' && fromManifest !== '' ? fromManifest : 'default'))
    : undefined;
  const warnings: string[] = [];
  const nowMs = opts.nowMs ?? testAdmissionNowMs;
  const common = { fieldValidation: opts.fieldValidation ?? 'Strict', warnings, namespace };
  let object: KubeObject | undefined;
  let error: H8sError | undefined;
  try {
    object = opts.old
      ? admitObject(def, body, {
          ...common,
          operation: 'update',
          nowMs,
          old: opts.old,
          subresource: opts.subresource,
        })
      : admitObject(def, body, {
          ...common,
          operation: 'create',
          nowMs,
          uid: opts.uid ?? testAdmissionUid,
          nameSuffix: () => 'x7k2q',
        });
  } catch (err) {
    if (!(err instanceof H8sError)) throw err;
    error = err;
  }
  return {
    get object(): KubeObject {
      if (!object) throw error ?? new Error('admission produced no object');
      return object;
    },
    error,
    warnings,
  };
}

/**
 * A create of `manifest` followed by the update of its status to the manifest's, as a node
 * agent or controller reports status (a create drops the status of kinds with a status
 * subresource, as upstream does).
 */
export function admitWithStatus(
  def: KindDefinition,
  manifest: unknown,
  opts: Omit<TestAdmissionOptions, 'old' | 'subresource'> = {},
): TestAdmission {
  const created = admit(def, manifest, opts);
  if (created.error) return created;
  return admit(def, manifest, { ...opts, old: created.object, subresource: 'status' });
}

/**
 * The admission's problems as `field: message` lines, for readable assertions: the causes of
 * an Invalid (422), the message of any other error (a 400 of the decode), none on success.
 */
export function causeLines(result: TestAdmission): string[] {
  const err = result.error;
  if (!err) return [];
  const causes: readonly StatusCause[] = err.code === 'Invalid' ? (err.details.causes ?? []) : [];
  if (causes.length === 0) return [err.message];
  return causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message));
}
