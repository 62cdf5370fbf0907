/**
 * The meta.k8s.io/v1 envelope types the server emits or accepts besides kinds: Status,
 * DeleteOptions, WatchEvent, PartialObjectMetadata and lists. Schemas where the server
 * receives them (DeleteOptions) or publishes them in OpenAPI; plain types otherwise.
 */
import type { Static } from '@sinclair/typebox';
import { anyValue, bool, int32, int64, list, object, str, stringList } from '../../schema/fields.js';
import { ListMetaSchema, ObjectMetaSchema } from './object-meta.js';

export const StatusCauseSchema = object(
  'io.k8s.apimachinery.pkg.apis.meta.v1.StatusCause',
  'StatusCause provides more information about an api.Status failure, including cases when multiple errors are encountered.',
  {
    reason: str(
      'A machine-readable description of the cause of the error. If this value is empty there is no information available.',
    ),
    message: str(
      'A human-readable description of the cause of the error. This field may be presented as-is to a reader.',
    ),
    field: str(
      'The field of the resource that has caused this error, as named by its JSON serialization, e.g. "spec.containers[0].image".',
    ),
  },
);

export const StatusDetailsSchema = object(
  'io.k8s.apimachinery.pkg.apis.meta.v1.StatusDetails',
  'StatusDetails is a set of additional properties that MAY be set by the server to provide additional information about a response.',
  {
    name: str(
      'The name attribute of the resource associated with the status StatusReason (when there is a single name which can be described).',
    ),
    group: str('The group attribute of the resource associated with the status StatusReason.'),
    kind: str('The kind attribute of the resource associated with the status StatusReason.'),
    uid: str('UID of the resource. (when there is a single resource which can be described).'),
    causes: list(
      StatusCauseSchema,
      'The Causes array includes more details associated with the StatusReason failure.',
      { listType: 'atomic' },
    ),
    retryAfterSeconds: int32('If specified, the time in seconds before the operation should be retried.'),
  },
);

export const StatusSchema = object(
  'io.k8s.apimachinery.pkg.apis.meta.v1.Status',
  "Status is a return value for calls that don't return other objects.",
  {
    apiVersion: str('APIVersion defines the versioned schema of this representation of an object.'),
    kind: str('Kind is a string value representing the REST resource this object represents.'),
    metadata: ListMetaSchema,
    status: str('Status of the operation. One of: "Success" or "Failure".'),
    message: str('A human-readable description of the status of this operation.'),
    reason: str('A machine-readable description of why this operation is in the "Failure" status.'),
    details: StatusDetailsSchema,
    code: int32('Suggested HTTP return code for this status, 0 if not set.'),
  },
);

export type Status = Static<typeof StatusSchema>;

export const DeleteOptionsSchema = object(
  'io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions',
  'DeleteOptions may be provided when deleting an API object.',
  {
    apiVersion: str('APIVersion defines the versioned schema of this representation of an object.'),
    kind: str('Kind is a string value representing the REST resource this object represents.'),
    gracePeriodSeconds: int64(
      'The duration in seconds before the object should be deleted. Value must be non-negative integer. The value zero indicates delete immediately.',
    ),
    preconditions: object(
      'io.k8s.apimachinery.pkg.apis.meta.v1.Preconditions',
      'Preconditions must be fulfilled before an operation (update, delete, etc.) is carried out.',
      {
        uid: str('Specifies the target UID.'),
        resourceVersion: str('Specifies the target ResourceVersion'),
      },
    ),
    orphanDependents: bool(
      'Deprecated: please use the PropagationPolicy, this field will be deprecated in 1.7.',
    ),
    propagationPolicy: str(
      "Whether and how garbage collection will be performed: 'Orphan', 'Background' or 'Foreground'.",
    ),
    dryRun: stringList(
      'When present, indicates that modifications should not be persisted. Valid value: "All".',
      { 'x-kubernetes-list-type': 'atomic' },
    ),
    ignoreStoreReadErrorWithClusterBreakingPotential: bool(
      'if set to true, it will trigger an unsafe deletion of the resource in case the normal deletion flow fails with a corrupt object error.',
    ),
  },
);

export type DeleteOptions = Static<typeof DeleteOptionsSchema>;

export const WatchEventSchema = object(
  'io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent',
  'Event represents a single event to a watched resource.',
  {
    type: str('ADDED, MODIFIED, DELETED, BOOKMARK or ERROR.'),
    object: anyValue(
      'Object is: If Type is Added or Modified: the new state of the object. If Type is Deleted: the state of the object immediately before deletion. If Type is Error: *Status is recommended.',
    ),
  },
  { required: ['type', 'object'] },
);

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

/** One line of a watch stream. */
export interface WatchEvent<T = unknown> {
  readonly type: WatchEventType;
  readonly object: T;
}

export const PartialObjectMetadataSchema = object(
  'io.k8s.apimachinery.pkg.apis.meta.v1.PartialObjectMetadata',
  'PartialObjectMetadata is a generic representation of any object with ObjectMeta.',
  {
    apiVersion: str('APIVersion defines the versioned schema of this representation of an object.'),
    kind: str('Kind is a string value representing the REST resource this object represents.'),
    metadata: ObjectMetaSchema,
  },
);

/** `{kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata}`. */
export interface PartialObjectMetadata {
  readonly kind: 'PartialObjectMetadata';
  readonly apiVersion: 'meta.k8s.io/v1';
  readonly metadata: Record<string, unknown>;
}

/** A `…List` response. */
export interface KubeList<T = unknown> {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { resourceVersion?: string; continue?: string; remainingItemCount?: number };
  readonly items: readonly T[];
}

/** meta.k8s.io/v1 Table (server-side printing for `kubectl get`). */
export interface Table {
  readonly kind: 'Table';
  readonly apiVersion: 'meta.k8s.io/v1';
  readonly metadata: { resourceVersion?: string; continue?: string; remainingItemCount?: number };
  readonly columnDefinitions: readonly {
    readonly name: string;
    readonly type: string;
    readonly format: string;
    readonly description: string;
    readonly priority: number;
  }[];
  readonly rows: readonly {
    readonly cells: readonly unknown[];
    readonly object?: unknown;
    readonly conditions?: readonly { type: string; status: string; reason?: string; message?: string }[];
  }[];
}

/** One resource of an APIResourceList (legacy discovery). */
export interface APIResource {
  readonly name: string;
  readonly singularName: string;
  readonly namespaced: boolean;
  readonly group?: string;
  readonly version?: string;
  readonly kind: string;
  readonly verbs: readonly string[];
  readonly shortNames?: readonly string[];
  readonly categories?: readonly string[];
  readonly storageVersionHash?: string;
}

/** `GET /api/v1` and `GET /apis/{g}/{v}`. */
export interface APIResourceList {
  readonly kind: 'APIResourceList';
  readonly apiVersion: 'v1';
  readonly groupVersion: string;
  readonly resources: readonly APIResource[];
}
