/**
 * The part of a create that needs no server state, as a write worker runs it off the event
 * loop: the pure pipeline (`decodeForAdmission`, `completeAdmission`), managedFields and the
 * stored bytes. `ResourceRegistry.createPrepared` does the rest on the event loop: admission,
 * the store write. The inline create runs the same steps, with admission in between.
 */
import {
  apiVersionOf,
  completeAdmission,
  decodeForAdmission,
  formatTime,
  schemaNodeFor,
  type FieldValidation,
  type KindDefinition,
  type KubeObject,
} from '../../api/index.js';
import { trackUpdate } from '../patch/field-manager.js';
import { encodeObject } from './object-codec.js';
import type { AdmissionFacts } from './kind-strategy.js';
import { strategyFor } from './strategy-for-kind.js';

/** The outcome of `prepareCreate` (it crosses threads: plain data and errors only). */
export type PreparedCreate =
  | {
      readonly ok: true;
      readonly name: string;
      /** The name admission reports (the generateName prefix for generated names). */
      readonly admissionName: string;
      /** True when the name was generated (a collision retries instead of AlreadyExists). */
      readonly generated: boolean;
      /** The bytes to store. */
      readonly value: Uint8Array;
      /** The kind strategy's facts for admission plugins (`KindStrategy.admissionFacts`). */
      readonly facts?: AdmissionFacts;
    }
  | {
      readonly ok: false;
      /** `decode` errors come before admission, `validate` errors after mutating admission. */
      readonly stage: 'decode' | 'validate';
      readonly error: unknown;
      readonly admissionName: string;
    };

export interface PrepareCreateInput {
  readonly namespace: string | undefined;
  readonly fieldValidation: FieldValidation;
  readonly fieldManager: string;
  /** Keys the JSON body repeated. */
  readonly duplicateFields?: readonly string[];
  /** Appended to: unknown and repeated fields under Warn. */
  readonly warnings: string[];
  /** The server's time and a fresh uid (a worker has neither). */
  readonly nowMs: number;
  readonly uid: string;
  readonly nameSuffix: () => string;
}

/** Whether a create of `obj` makes its name from `generateName`. */
export function hasGeneratedName(obj: KubeObject): boolean {
  const meta = obj.metadata;
  return !meta.name && typeof meta.generateName === 'string' && meta.generateName !== '';
}

/**
 * Everything of a create of `body` that needs no server state. Never throws: errors come back
 * with the stage they belong to, so the caller keeps upstream's order (decode errors before
 * admission, validation errors after mutating admission).
 */
export function prepareCreate(def: KindDefinition, body: unknown, input: PrepareCreateInput): PreparedCreate {
  let obj: KubeObject;
  try {
    obj = decodeForAdmission(def, body, input);
  } catch (error) {
    return { ok: false, stage: 'decode', error, admissionName: '' };
  }
  const meta = obj.metadata;
  const admissionName = meta.name ?? meta.generateName ?? '';
  const generated = hasGeneratedName(obj);
  const strategy = strategyFor(def.group, def.kind);
  const facts = strategy.admissionFacts?.(obj);
  try {
    completeAdmission(def, obj, {
      operation: 'create',
      nowMs: input.nowMs,
      uid: input.uid,
      nameSuffix: input.nameSuffix,
      prepareForCreate: (o) => strategy.prepareForCreate?.(o),
    });
    trackUpdate(undefined, obj, input.fieldManager, {
      schema: schemaNodeFor(def.schema),
      apiVersion: apiVersionOf(def),
      now: formatTime(input.nowMs),
    });
    return {
      ok: true,
      name: meta.name as string,
      admissionName,
      generated,
      value: encodeObject(obj),
      ...(facts ? { facts } : {}),
    };
  } catch (error) {
    return { ok: false, stage: 'validate', error, admissionName };
  }
}
