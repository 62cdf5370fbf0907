/**
 * The contract between `api` (what each kind is) and `apiserver` (how any kind is served).
 *
 * One `KindDefinition` per served kind (one kind per file under api/<group>/<version>/).
 * The apiserver's generic registry, discovery, OpenAPI, tables, field selectors and patch
 * engines are driven only by these definitions; nothing in apiserver names a kind, except
 * where a subresource needs special wiring (pods/log, pods/exec, ...).
 *
 * Invariants:
 * - `schema` is a TypeBox (JSON Schema) definition of the whole object, including
 *   `apiVersion`, `kind`, `metadata`. Unknown fields are detected by comparing an object
 *   with its schema (strict field validation); maps such as labels use `additionalProperties`.
 *   Lists merged by key in strategic merge patch carry `x-kubernetes-patch-merge-key` and
 *   `x-kubernetes-patch-strategy` on the array schema, as upstream OpenAPI does.
 * - `applyDefaults`, `validate`, `row` and field selector functions are pure and never throw
 *   on well-formed input (input has passed the schema check first).
 * - Order on create: the apiserver fills system metadata (`uid`, `creationTimestamp`,
 *   `namespace`, `generation`), then calls `applyDefaults` (which may read `metadata.uid`, e.g.
 *   Job's generated selector), then `validateObjectMeta` + `validate`. On create `applyDefaults`
 *   also sets the initial status upstream's create strategy sets (Pod `Pending`, Namespace
 *   `Active`, ...), only where the status field is absent.
 */
import type { TSchema } from '@sinclair/typebox';
import type { StatusCause } from '../lib/index.js';

/** A Kubernetes object as stored and served: JSON with apiVersion, kind and metadata. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ManagedFieldsEntry {
  manager?: string;
  operation?: 'Apply' | 'Update';
  apiVersion?: string;
  time?: string;
  fieldsType?: 'FieldsV1';
  fieldsV1?: Record<string, unknown>;
  subresource?: string;
}

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  finalizers?: string[];
  managedFields?: ManagedFieldsEntry[];
}

/**
 * The rule `metadata.name` must follow (upstream `ValidateNameFunc`): most kinds use DNS-1123
 * subdomains; Namespace a DNS-1123 label; Service a DNS-1035 label; RBAC kinds path segments.
 */
export type NameRule = 'dns1123Subdomain' | 'dns1123Label' | 'dns1035Label' | 'pathSegment';

export type Verb = 'create' | 'delete' | 'deletecollection' | 'get' | 'list' | 'patch' | 'update' | 'watch';

/** A column of `kubectl get` output (a Table columnDefinition). */
export interface TableColumn {
  readonly name: string;
  readonly type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  /** `name` marks the name column (kubectl prefixes it with kind/ in `get all`). */
  readonly format: '' | 'name' | 'date';
  readonly description: string;
  /** 0 = always shown; 1 = only with `-o wide`. */
  readonly priority: 0 | 1;
}

/** Where the scale subresource finds replicas and the selector (JSON field paths). */
export interface ScaleSubresource {
  /** e.g. `.spec.replicas` */
  readonly specReplicasPath: string;
  /** e.g. `.status.replicas` */
  readonly statusReplicasPath: string;
  /** e.g. `.status.selector` (string form) or `.spec.selector` (LabelSelector object) */
  readonly labelSelectorPath?: string;
}

/** Context for defaulting and validation that is not in the object itself. */
export interface KindContext {
  /** `create` or `update` (validate gets `old` on update). */
  readonly operation: 'create' | 'update';
  /** Current time in ms, for timestamps set by defaulting. */
  readonly nowMs: number;
}

export interface KindDefinition {
  /** API group; '' for the core group (served under /api/v1). */
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  readonly listKind: string;
  /** Lower-case plural resource name, e.g. `pods`. */
  readonly plural: string;
  readonly singular: string;
  readonly shortNames: readonly string[];
  /** e.g. `['all']` so `kubectl get all` includes the kind. */
  readonly categories: readonly string[];
  readonly namespaced: boolean;
  readonly verbs: readonly Verb[];
  /** Short description shown by `kubectl explain`. */
  readonly description: string;
  /**
   * True when the object has a `status` written only through the /status subresource
   * (updates of the main resource keep the old status, and /status keeps the old spec).
   */
  readonly hasStatusSubresource: boolean;
  /** Present when the kind serves /scale. */
  readonly scale?: ScaleSubresource;
  /**
   * True when `metadata.generation` starts at 1 and increments whenever anything other than
   * metadata and status changes.
   */
  readonly tracksGeneration: boolean;
  /** JSON Schema of the whole object (see module invariants). */
  readonly schema: TSchema;
  /** Fills in defaults, in place, on an object that passed the schema check. */
  applyDefaults(obj: KubeObject, ctx: KindContext): void;
  /**
   * Semantic validation beyond the schema (name format, label syntax, immutable fields on
   * update, cross-field rules). Returns one cause per problem; empty means valid.
   * Common metadata rules are the apiserver's job; this covers the kind's own rules.
   */
  validate(obj: KubeObject, old: KubeObject | undefined, ctx: KindContext): StatusCause[];
  /** Columns for `kubectl get` (NAME first, AGE where upstream shows it). */
  readonly columns: readonly TableColumn[];
  /** One table row for `obj`, matching `columns`; Age rendered as upstream does (e.g. `5m`). */
  row(obj: KubeObject, nowMs: number): readonly (string | number | boolean | null)[];
  /**
   * Field selectors this kind supports beyond `metadata.name` and `metadata.namespace`
   * (which the apiserver handles for every kind): label → value of the field as a string.
   */
  readonly fieldSelectors: Readonly<Record<string, (obj: KubeObject) => string>>;
  /** The rule for `metadata.name` (pass it to `validateObjectMeta`); absent = DNS-1123 subdomain. */
  readonly nameRule?: NameRule;
}
