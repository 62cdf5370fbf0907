/**
 * ObjectMeta: the schema every persisted object shares, and the common metadata rules
 * (upstream `ValidateObjectMetaAccessor` / `ValidateObjectMetaUpdate`) the apiserver applies
 * to every kind.
 */
import type { StatusCause } from '../../../lib/index.js';
import type { ObjectMeta } from '../../kind-definition.js';
import {
  bool,
  freeObject,
  int64,
  list,
  object,
  str,
  stringList,
  stringMap,
  time,
} from '../../schema/fields.js';
import {
  duplicateCause,
  forbiddenCause,
  immutableCause,
  invalidCause,
  requiredCause,
  tooLongCause,
} from '../../validation/field-causes.js';
import {
  checkDns1123Label,
  checkLabelValue,
  checkObjectName,
  checkQualifiedName,
  type NameRule,
} from '../../validation/names.js';

export const OwnerReferenceSchema = object(
  'io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference',
  'OwnerReference contains enough information to let you identify an owning object. An owning object must be in the same namespace as the dependent, or be cluster-scoped, so there is no namespace field.',
  {
    apiVersion: str('API version of the referent.'),
    kind: str('Kind of the referent.'),
    name: str('Name of the referent.'),
    uid: str('UID of the referent.'),
    controller: bool('If true, this reference points to the managing controller.'),
    blockOwnerDeletion: bool(
      'If true, AND if the owner has the "foregroundDeletion" finalizer, then the owner cannot be deleted from the key-value store until this reference is removed.',
    ),
  },
  { required: ['apiVersion', 'kind', 'name', 'uid'], extra: { 'x-kubernetes-map-type': 'atomic' } },
);

export const ManagedFieldsEntrySchema = object(
  'io.k8s.apimachinery.pkg.apis.meta.v1.ManagedFieldsEntry',
  'ManagedFieldsEntry is a workflow-id, a FieldSet and the group version of the resource that the fieldset applies to.',
  {
    manager: str('Manager is an identifier of the workflow managing these fields.'),
    operation: str(
      "Operation is the type of operation which lead to this ManagedFieldsEntry being created. The only valid values for this field are 'Apply' and 'Update'.",
    ),
    apiVersion: str('APIVersion defines the version of this resource that this field set applies to.'),
    time: time('Time is the timestamp of when the ManagedFields entry was added.'),
    fieldsType: str(
      'FieldsType is the discriminator for the different fields format and version. There is currently only one possible value: "FieldsV1"',
    ),
    fieldsV1: freeObject('FieldsV1 holds the first JSON version format as described in the "FieldsV1" type.'),
    subresource: str(
      'Subresource is the name of the subresource used to update that object, or empty string if the object was updated through the main resource.',
    ),
  },
);

export const ObjectMetaSchema = object(
  'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta',
  'ObjectMeta is metadata that all persisted resources must have, which includes all objects users must create.',
  {
    name: str(
      'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Cannot be updated.',
    ),
    generateName: str(
      'GenerateName is an optional prefix, used by the server, to generate a unique name ONLY IF the Name field has not been provided.',
    ),
    namespace: str(
      'Namespace defines the space within which each name must be unique. Must be a DNS_LABEL. Cannot be updated.',
    ),
    selfLink: str(
      'Deprecated: selfLink is a legacy read-only field that is no longer populated by the system.',
    ),
    uid: str(
      'UID is the unique in time and space value for this object. Populated by the system. Read-only.',
    ),
    resourceVersion: str(
      'An opaque value that represents the internal version of this object that can be used by clients to determine when objects have changed.',
    ),
    generation: int64(
      'A sequence number representing a specific generation of the desired state. Populated by the system. Read-only.',
    ),
    creationTimestamp: time(
      'CreationTimestamp is a timestamp representing the server time when this object was created. Populated by the system. Read-only.',
    ),
    deletionTimestamp: time(
      'DeletionTimestamp is RFC 3339 date and time at which this resource will be deleted. Set by the server when a graceful deletion is requested. Read-only.',
    ),
    deletionGracePeriodSeconds: int64(
      'Number of seconds allowed for this object to gracefully terminate before it will be removed from the system. Only set when deletionTimestamp is also set.',
    ),
    labels: stringMap(
      'Map of string keys and values that can be used to organize and categorize (scope and select) objects.',
    ),
    annotations: stringMap(
      'Annotations is an unstructured key value map stored with a resource that may be set by external tools to store and retrieve arbitrary metadata.',
    ),
    ownerReferences: list(
      OwnerReferenceSchema,
      'List of objects depended by this object. If ALL objects in the list have been deleted, this object will be garbage collected.',
      {
        mergeKey: 'uid',
        listType: 'map',
        mapKeys: ['uid'],
      },
    ),
    finalizers: stringList(
      'Must be empty before the object is deleted from the registry. Each entry is an identifier for the responsible component that will remove the entry from the list.',
      {
        'x-kubernetes-patch-strategy': 'merge',
        'x-kubernetes-list-type': 'set',
      },
    ),
    managedFields: list(
      ManagedFieldsEntrySchema,
      'ManagedFields maps workflow-id and version to the set of fields that are managed by that workflow.',
      {
        listType: 'atomic',
      },
    ),
  },
);

export const ListMetaSchema = object(
  'io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta',
  'ListMeta describes metadata that synthetic resources must have, including lists and various status objects.',
  {
    selfLink: str(
      'Deprecated: selfLink is a legacy read-only field that is no longer populated by the system.',
    ),
    resourceVersion: str(
      "String that identifies the server's internal version of this object that can be used by clients to determine when objects have changed.",
    ),
    continue: str(
      'continue may be set if the user set a limit on the number of items returned, and indicates that the server has more data available.',
    ),
    remainingItemCount: int64(
      'remainingItemCount is the number of subsequent items in the list which are not included in this list response.',
    ),
  },
);

/** Upstream `TotalAnnotationSizeLimitB`: annotations may hold at most 256 KiB in total. */
export const TOTAL_ANNOTATION_SIZE_LIMIT_BYTES = 256 * 1024;

/** Finalizer names upstream accepts without a domain prefix. */
const standardFinalizers = new Set(['kubernetes', 'orphan', 'foregroundDeletion']);

export interface ObjectMetaRules {
  /** Whether the kind is namespaced (namespace required) or cluster-scoped (forbidden). */
  readonly namespaced: boolean;
  /** The Kind, used to pick the name rule when `nameRule` is not given. */
  readonly kind: string;
  /** The rule `metadata.name` follows; defaults by kind (see `defaultNameRule`). */
  readonly nameRule?: NameRule;
}

/** The name rule upstream uses for a kind (DNS-1123 subdomain unless noted). */
export function defaultNameRule(kind: string): NameRule {
  switch (kind) {
    case 'Namespace':
    case 'Network':
      return 'dns1123Label';
    case 'Service':
      return 'dns1035Label';
    case 'Role':
    case 'ClusterRole':
    case 'RoleBinding':
    case 'ClusterRoleBinding':
      return 'pathSegment';
    default:
      return 'dns1123Subdomain';
  }
}

function byteLength(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** Upstream `ValidateLabels`: causes are reported at the map's path, as upstream does. */
export function validateLabels(
  labels: Readonly<Record<string, string>> | undefined,
  field: string,
): StatusCause[] {
  const causes: StatusCause[] = [];
  if (!labels) return causes;
  for (const [k, v] of Object.entries(labels)) {
    for (const msg of checkQualifiedName(k)) causes.push(invalidCause(field, k, msg));
    if (typeof v !== 'string') {
      causes.push(invalidCause(field, v, 'label values must be strings'));
      continue;
    }
    for (const msg of checkLabelValue(v)) causes.push(invalidCause(field, v, msg));
  }
  return causes;
}

/** Upstream `ValidateAnnotations`: qualified keys and at most 256 KiB in total. */
export function validateAnnotations(
  annotations: Readonly<Record<string, string>> | undefined,
  field: string,
): StatusCause[] {
  const causes: StatusCause[] = [];
  if (!annotations) return causes;
  let total = 0;
  for (const [k, v] of Object.entries(annotations)) {
    for (const msg of checkQualifiedName(k.toLowerCase())) causes.push(invalidCause(field, k, msg));
    total += byteLength(k) + (typeof v === 'string' ? byteLength(v) : 0);
  }
  if (total > TOTAL_ANNOTATION_SIZE_LIMIT_BYTES)
    causes.push(tooLongCause(field, TOTAL_ANNOTATION_SIZE_LIMIT_BYTES));
  return causes;
}

function validateOwnerReferences(meta: ObjectMeta, field: string): StatusCause[] {
  const causes: StatusCause[] = [];
  const refs = meta.ownerReferences;
  if (!refs) return causes;
  const controllers: string[] = [];
  const uids = new Set<string>();
  refs.forEach((ref, i) => {
    const p = `${field}[${i}]`;
    if (!ref.apiVersion)
      causes.push(invalidCause(`${p}.apiVersion`, ref.apiVersion ?? '', 'version must not be empty'));
    if (!ref.kind) causes.push(invalidCause(`${p}.kind`, ref.kind ?? '', 'kind must not be empty'));
    if (!ref.name) causes.push(invalidCause(`${p}.name`, ref.name ?? '', 'name must not be empty'));
    if (!ref.uid) causes.push(invalidCause(`${p}.uid`, ref.uid ?? '', 'uid must not be empty'));
    else if (uids.has(ref.uid)) causes.push(duplicateCause(`${p}.uid`, ref.uid));
    else uids.add(ref.uid);
    if (ref.controller === true) controllers.push(`${ref.kind}/${ref.name}`);
  });
  if (controllers.length > 1) {
    causes.push(
      invalidCause(
        field,
        refs,
        `Only one reference can have Controller set to true. Found "true" in references for ${controllers.join(' and ')}`,
      ),
    );
  }
  return causes;
}

function validateFinalizers(finalizers: readonly string[] | undefined, field: string): StatusCause[] {
  const causes: StatusCause[] = [];
  if (!finalizers) return causes;
  const seen = new Set<string>();
  for (const f of finalizers) {
    if (!standardFinalizers.has(f))
      for (const msg of checkQualifiedName(f)) causes.push(invalidCause(field, f, msg));
    seen.add(f);
  }
  if (seen.has('orphan') && seen.has('foregroundDeletion')) {
    causes.push(
      invalidCause(field, finalizers, 'finalizer orphan and foregroundDeletion cannot be both set'),
    );
  }
  return causes;
}

/**
 * The metadata rules common to every kind, checked on create and update: name (or
 * generateName), namespace presence, labels, annotations, ownerReferences, finalizers.
 * Field paths start at `metadata.`.
 */
export function validateObjectMeta(meta: ObjectMeta | undefined, rules: ObjectMetaRules): StatusCause[] {
  const causes: StatusCause[] = [];
  const m: ObjectMeta = meta ?? {};
  const rule = rules.nameRule ?? defaultNameRule(rules.kind);
  if (m.generateName) {
    for (const msg of checkObjectName(rule, m.generateName, true)) {
      causes.push(invalidCause('metadata.generateName', m.generateName, msg));
    }
  }
  if (!m.name) {
    causes.push(requiredCause('metadata.name', 'name or generateName is required'));
  } else {
    for (const msg of checkObjectName(rule, m.name, false))
      causes.push(invalidCause('metadata.name', m.name, msg));
  }
  if (rules.namespaced) {
    if (!m.namespace) causes.push(requiredCause('metadata.namespace'));
    else
      for (const msg of checkDns1123Label(m.namespace))
        causes.push(invalidCause('metadata.namespace', m.namespace, msg));
  } else if (m.namespace) {
    causes.push(forbiddenCause('metadata.namespace', 'not allowed on this type'));
  }
  if (m.generation !== undefined && m.generation < 0) {
    causes.push(invalidCause('metadata.generation', m.generation, 'must be greater than or equal to 0'));
  }
  causes.push(...validateLabels(m.labels, 'metadata.labels'));
  causes.push(...validateAnnotations(m.annotations, 'metadata.annotations'));
  causes.push(...validateOwnerReferences(m, 'metadata.ownerReferences'));
  causes.push(...validateFinalizers(m.finalizers, 'metadata.finalizers'));
  if (m.managedFields) {
    m.managedFields.forEach((e, i) => {
      if (e.operation !== undefined && e.operation !== 'Apply' && e.operation !== 'Update') {
        causes.push(
          invalidCause(`metadata.managedFields[${i}].operation`, e.operation, 'must be `Apply` or `Update`'),
        );
      }
      if (e.fieldsType !== undefined && e.fieldsType !== 'FieldsV1') {
        causes.push(
          invalidCause(`metadata.managedFields[${i}].fieldsType`, e.fieldsType, 'must be `FieldsV1`'),
        );
      }
    });
  }
  return causes;
}

/**
 * The metadata rules for an update (upstream `ValidateObjectMetaUpdate`): name, namespace,
 * uid, creationTimestamp, deletionTimestamp and deletionGracePeriodSeconds are immutable,
 * generation never decreases, and no finalizer may be added once deletion has started.
 * Does not check `resourceVersion` presence: that is the apiserver's precondition logic.
 */
export function validateObjectMetaUpdate(
  meta: ObjectMeta | undefined,
  old: ObjectMeta | undefined,
): StatusCause[] {
  const causes: StatusCause[] = [];
  const m: ObjectMeta = meta ?? {};
  const o: ObjectMeta = old ?? {};
  if (o.deletionTimestamp !== undefined) {
    const before = new Set(o.finalizers ?? []);
    const added = (m.finalizers ?? []).filter((f) => !before.has(f));
    if (added.length > 0) {
      causes.push(
        forbiddenCause(
          'metadata.finalizers',
          `no new finalizers can be added if the object is being deleted, found new finalizers ${JSON.stringify(added)}`,
        ),
      );
    }
  }
  if ((m.generation ?? 0) < (o.generation ?? 0)) {
    causes.push(invalidCause('metadata.generation', m.generation ?? 0, 'must not be decremented'));
  }
  const immutable = [
    'name',
    'namespace',
    'uid',
    'creationTimestamp',
    'deletionTimestamp',
    'deletionGracePeriodSeconds',
  ] as const;
  for (const key of immutable) {
    if ((m[key] ?? '') !== (o[key] ?? '')) causes.push(immutableCause(`metadata.${key}`, m[key] ?? ''));
  }
  return causes;
}
