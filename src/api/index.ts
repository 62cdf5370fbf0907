/**
 * api: the object types the API serves, with their schemas, defaulting, validation and
 * table columns; one kind per file under api/<group>/<version>/. Pure: no I/O, no clock reads
 * (time comes in as `nowMs`).
 *
 * The front door exports:
 * - the kind registry (`allKinds`, `findKindByResource`, `findKindByApiVersionKind`,
 *   `findKindByShortName`, `findKindsByName`) and the `KindDefinition` contract;
 * - the pure write pipeline every write runs (`admitObject` = `decodeForAdmission` then
 *   `completeAdmission`: decode, unknown fields, schema, system metadata, defaults, validation);
 * - common metadata rules (`validateObjectMeta`, `validateObjectMetaUpdate`), field causes and
 *   `invalidObjectError` (upstream-worded 422s);
 * - label selectors (`parseLabelSelector`, `labelSelectorFromObject`, `matchesLabelSelector`,
 *   `labelSelectorToString`) and field selectors (`parseFieldSelector`, `matchesFieldSelector`);
 * - the schema walker (`schemaNodeFor`: structs, maps, lists and their merge keys) and strict
 *   field validation (`pruneUnknownFields`, `dropNullFields`);
 * - quantities (`parseQuantity`, `quantityMilliValue`, ...) and `formatAge`;
 * - OpenAPI v3 documents (`buildOpenApiV3Index`, `buildOpenApiV3Document`) and the v2 document
 *   in JSON and gnostic protobuf (`buildOpenApiV2`);
 * - `decodeKubernetesProtobuf` for `application/vnd.kubernetes.protobuf` request bodies;
 * - Status/DeleteOptions/Table/WatchEvent types, Scale (`scaleOf`) and Binding bodies;
 * - the typed objects (`Pod`, `Namespace`, `Network`, ...).
 *
 * What it is not: serving (apiserver), storing (storage) or talking HTTP (client).
 * Invariants: every exported function is deterministic; schemas are TypeBox (JSON Schema),
 * closed except real maps, with upstream's list-merge extensions.
 */
export type * from './kind-definition.js';

// The pure write pipeline (decode, system metadata, defaults, validation).
export {
  admitObject,
  checkObjectFields,
  completeAdmission,
  decodeForAdmission,
  type AdmitObjectOptions,
  type Completion,
  type CreateCompletion,
  type DecodeOptions,
  type FieldCheckOptions,
  type FieldValidation,
  type UpdateCompletion,
} from './admission/admit-object.js';
export { formatTime } from './meta/v1/time.js';

export {
  allKinds,
  apiVersionOf,
  findKindByApiVersionKind,
  findKindByResource,
  findKindByShortName,
  findKindsByName,
  servedGroupVersions,
  splitApiVersion,
} from './kinds.js';

// Metadata, selectors, validation helpers.
export {
  ObjectMetaSchema,
  ListMetaSchema,
  OwnerReferenceSchema,
  TOTAL_ANNOTATION_SIZE_LIMIT_BYTES,
  defaultNameRule,
  validateAnnotations,
  validateLabels,
  validateObjectMeta,
  validateObjectMetaUpdate,
  type ObjectMetaRules,
} from './meta/v1/object-meta.js';
export {
  EVERYTHING,
  NOTHING,
  LabelSelectorSchema,
  isEverything,
  labelSelectorFromObject,
  labelSelectorToString,
  matchesLabelSelector,
  parseLabelSelector,
  validateLabelSelector,
  type LabelRequirement,
  type LabelSelector,
  type LabelSelectorRequirement,
  type ParsedLabelSelector,
} from './meta/v1/label-selector.js';
export { matchesFieldSelector, parseFieldSelector, type FieldRequirement } from './meta/v1/field-selector.js';
export {
  causeText,
  duplicateCause,
  forbiddenCause,
  formatFieldValue,
  immutableCause,
  invalidCause,
  invalidObjectError,
  notSupportedCause,
  requiredCause,
  tooLongCause,
  tooManyCause,
} from './validation/field-causes.js';
export {
  checkDns1035Label,
  checkDns1123Label,
  checkDns1123Subdomain,
  checkLabelValue,
  checkObjectName,
  checkQualifiedName,
} from './validation/names.js';
export {
  cidrContains,
  cidrsOverlap,
  parseCidr,
  parseIp,
  type ParsedCidr,
  type ParsedIp,
} from './validation/ip-address.js';
export { deepEqual } from './validation/deep-equal.js';
export { dropNullFields, pruneUnknownFields } from './schema/unknown-fields.js';
export { schemaNodeFor, SchemaNode, type ListType, type SchemaShape } from './schema/schema-node.js';

// Quantities and table helpers.
export {
  findQuantity,
  isQuantity,
  parseQuantity,
  quantityFromNumber,
  quantityMilliValue,
  quantityValue,
} from './resource/quantity.js';
export { ageSince, formatAge } from './table/format-age.js';

// Kinds and their types.
export { namespaceKind, type Namespace } from './core/v1/namespace.js';
export { configMapKind, type ConfigMap } from './core/v1/config-map.js';
export { secretKind, type Secret } from './core/v1/secret.js';
export { networkKind, type Network } from './core/v1/network.js';
export { podKind, podNeedsHostAccess, type Pod } from './core/v1/pod.js';
export type { PodSpec, PodTemplateSpec } from './core/v1/pod-spec.js';
export { podQosClass, podSummaryCells, type PodCondition, type PodStatus } from './core/v1/pod-status.js';
export { defaultPullPolicy, type Container, type ContainerPort } from './core/v1/container.js';
export type { ContainerStatus } from './core/v1/container-status.js';
export type { Probe } from './core/v1/probe.js';
export type { SecurityContext } from './core/v1/security-context.js';
export type { Volume } from './core/v1/volume.js';
export type { Affinity, Toleration, NodeSelectorTerm } from './core/v1/scheduling-constraints.js';
export {
  serviceKind,
  serviceExternalIp,
  servicePortsCell,
  type Service,
  type ServicePort,
} from './core/v1/service.js';
export { endpointsKind, type Endpoints } from './core/v1/endpoints.js';
export { nodeKind, nodeStatusCell, type Node } from './core/v1/node.js';
export { eventKind, type Event } from './core/v1/event.js';
export { serviceAccountKind, type ServiceAccount } from './core/v1/service-account.js';
export { persistentVolumeKind, type PersistentVolume } from './core/v1/persistent-volume.js';
export { persistentVolumeClaimKind, type PersistentVolumeClaim } from './core/v1/persistent-volume-claim.js';
export type { PersistentVolumeClaimSpec } from './core/v1/persistent-volume-claim-spec.js';
export { deploymentKind, type Deployment } from './apps/v1/deployment.js';
export { replicaSetKind, type ReplicaSet } from './apps/v1/replica-set.js';
export { statefulSetKind, type StatefulSet } from './apps/v1/stateful-set.js';
export { daemonSetKind, type DaemonSet } from './apps/v1/daemon-set.js';
export { jobKind, JOB_CONTROLLER_UID_LABEL, JOB_NAME_LABEL, type Job } from './batch/v1/job.js';
export { leaseKind, type Lease } from './coordination/v1/lease.js';
export { endpointSliceKind, type EndpointSlice } from './discovery/v1/endpoint-slice.js';
export { runtimeClassKind, type RuntimeClass } from './node/v1/runtime-class.js';
export {
  priorityClassKind,
  highestUserDefinablePriority,
  systemPriorityClasses,
  type PriorityClass,
} from './scheduling/v1/priority-class.js';
export {
  storageClassKind,
  DEFAULT_STORAGE_CLASS_ANNOTATION,
  type StorageClass,
} from './storage/v1/storage-class.js';
export { roleKind, type Role } from './rbac/v1/role.js';
export { clusterRoleKind, type ClusterRole } from './rbac/v1/cluster-role.js';
export { roleBindingKind, type RoleBinding } from './rbac/v1/role-binding.js';
export { clusterRoleBindingKind, type ClusterRoleBinding } from './rbac/v1/cluster-role-binding.js';
export type { PolicyRule, Subject, RoleRef } from './rbac/v1/policy-rule.js';
export {
  isZeroIntOrPercent,
  resolveIntOrPercent,
  validateIntOrPercent,
} from './validation/int-or-percent.js';
export { formatLabels } from './table/format-labels.js';

// Envelope types and subresource bodies.
export {
  DeleteOptionsSchema,
  StatusSchema,
  type APIResource,
  type APIResourceList,
  type DeleteOptions,
  type KubeList,
  type PartialObjectMetadata,
  type Status,
  type Table,
  type WatchEvent,
  type WatchEventType,
} from './meta/v1/status.js';
export { ScaleSchema, readJsonPath, scaleOf, type Scale } from './autoscaling/v1/scale.js';
export {
  BindingSchema,
  EvictionSchema,
  validateBinding,
  type Binding,
  type Eviction,
} from './core/v1/binding.js';

// OpenAPI documents.
export {
  buildOpenApiV3,
  buildOpenApiV3Document,
  buildOpenApiV3Index,
  groupVersionPath,
  kindSchemaName,
  type OpenApiOptions,
  type OpenApiV3Index,
  type OpenApiV3Set,
  type PublishedOpenApiDocument,
} from './openapi/openapi-v3.js';
export {
  buildOpenApiV2,
  buildOpenApiV2Document,
  EMPTY_OPENAPI_V2_PROTOBUF,
  encodeOpenApiV2Protobuf,
  OPENAPI_V2_PROTOBUF_CONTENT_TYPE,
  type PublishedOpenApiV2,
} from './openapi/openapi-v2.js';

// Protobuf request bodies (kubectl 1.32+ generator commands).
export {
  decodeKubernetesProtobuf,
  isKubernetesProtobuf,
  KUBERNETES_PROTOBUF_CONTENT_TYPE,
} from './protobuf/kubernetes-protobuf.js';
