/** storage.k8s.io/v1 StorageClass: a class of dynamically provisioned volumes. */
import type { Static } from '@sinclair/typebox';
import type { StatusCause } from '../../../lib/index.js';
import { AGE_COLUMN, ageCell, column, defineKind, NAME_COLUMN, topLevelSchema } from '../../define-kind.js';
import type { KubeObject } from '../../kind-definition.js';
import { bool, list, object, str, stringList, stringMap } from '../../schema/fields.js';
import { deepEqual } from '../../validation/deep-equal.js';
import {
  checkSupported,
  immutableCause,
  invalidCause,
  requiredCause,
} from '../../validation/field-causes.js';
import { checkQualifiedName } from '../../validation/names.js';

export const DEFAULT_STORAGE_CLASS_ANNOTATION = 'storageclass.kubernetes.io/is-default-class';

export const StorageClassSchema = topLevelSchema(
  'io.k8s.api.storage.v1.StorageClass',
  'StorageClass describes the parameters for a class of storage for which PersistentVolumes can be dynamically provisioned.',
  {
    provisioner: str('provisioner indicates the type of the provisioner (h8s: "h8s.io/cinder").'),
    parameters: stringMap(
      'parameters holds the parameters for the provisioner that should create volumes of this storage class.',
    ),
    reclaimPolicy: str(
      'reclaimPolicy controls the reclaimPolicy for dynamically provisioned PersistentVolumes of this storage class. Defaults to Delete.',
    ),
    mountOptions: stringList(
      'mountOptions controls the mountOptions for dynamically provisioned PersistentVolumes of this storage class.',
      { 'x-kubernetes-list-type': 'atomic' },
    ),
    allowVolumeExpansion: bool('allowVolumeExpansion shows whether the storage class allow volume expand.'),
    volumeBindingMode: str(
      'volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound. When unset, VolumeBindingImmediate is used.',
    ),
    allowedTopologies: list(
      object(
        'io.k8s.api.core.v1.TopologySelectorTerm',
        'A topology selector term represents the result of label queries.',
        {
          matchLabelExpressions: list(
            object(
              'io.k8s.api.core.v1.TopologySelectorLabelRequirement',
              'A topology selector requirement is a selector that matches given label.',
              {
                key: str('The label key that the selector applies to.'),
                values: stringList(
                  'An array of string values. One value must match the label to be selected.',
                  { 'x-kubernetes-list-type': 'atomic' },
                ),
              },
              { required: ['key', 'values'] },
            ),
            'A list of topology selector requirements by labels.',
            { listType: 'atomic' },
          ),
        },
        { extra: { 'x-kubernetes-map-type': 'atomic' } },
      ),
      'allowedTopologies restrict the node topologies where volumes can be dynamically provisioned.',
      { listType: 'atomic' },
    ),
  },
  ['provisioner'],
);

export type StorageClass = Static<typeof StorageClassSchema>;

function scOf(obj: KubeObject): StorageClass {
  return obj as unknown as StorageClass;
}

/** The NAME cell marks the default class as kubectl does: `standard (default)`. */
export function storageClassNameCell(obj: KubeObject): string {
  const a = obj.metadata.annotations ?? {};
  const isDefault =
    a[DEFAULT_STORAGE_CLASS_ANNOTATION] === 'true' ||
    a['storageclass.beta.kubernetes.io/is-default-class'] === 'true';
  return isDefault ? `${obj.metadata.name ?? ''} (default)` : (obj.metadata.name ?? '');
}

export const storageClassKind = defineKind({
  group: 'storage.k8s.io',
  version: 'v1',
  kind: 'StorageClass',
  plural: 'storageclasses',
  shortNames: ['sc'],
  namespaced: false,
  description: StorageClassSchema.description ?? '',
  schema: StorageClassSchema,
  applyDefaults(obj) {
    const sc = scOf(obj);
    sc.reclaimPolicy ??= 'Delete';
    sc.volumeBindingMode ??= 'Immediate';
  },
  validate(obj, old) {
    const causes: StatusCause[] = [];
    const sc = scOf(obj);
    if (!sc.provisioner) causes.push(requiredCause('provisioner'));
    else
      for (const msg of checkQualifiedName(sc.provisioner.toLowerCase()))
        causes.push(invalidCause('provisioner', sc.provisioner, msg));
    checkSupported(causes, 'reclaimPolicy', sc.reclaimPolicy, ['Delete', 'Retain']);
    checkSupported(causes, 'volumeBindingMode', sc.volumeBindingMode, ['Immediate', 'WaitForFirstConsumer']);
    const params = Object.keys(sc.parameters ?? {});
    if (params.length > 512)
      causes.push(invalidCause('parameters', params.length, 'must have at most 512 entries'));
    if (old) {
      const prev = scOf(old);
      if (prev.provisioner !== sc.provisioner)
        causes.push(immutableCause('provisioner', sc.provisioner ?? ''));
      if (!deepEqual(prev.parameters ?? {}, sc.parameters ?? {}))
        causes.push(immutableCause('parameters', sc.parameters ?? {}));
      if ((prev.reclaimPolicy ?? 'Delete') !== (sc.reclaimPolicy ?? 'Delete'))
        causes.push(immutableCause('reclaimPolicy', sc.reclaimPolicy ?? ''));
      if ((prev.volumeBindingMode ?? 'Immediate') !== (sc.volumeBindingMode ?? 'Immediate'))
        causes.push(immutableCause('volumeBindingMode', sc.volumeBindingMode ?? ''));
    }
    return causes;
  },
  customTable: {
    columns: [
      NAME_COLUMN,
      column('Provisioner', 'Indicates the type of the provisioner.'),
      column(
        'ReclaimPolicy',
        'Dynamically provisioned PersistentVolumes of this storage class are created with this reclaimPolicy. Defaults to Delete.',
      ),
      column(
        'VolumeBindingMode',
        'VolumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound.',
      ),
      column(
        'AllowVolumeExpansion',
        'AllowVolumeExpansion shows whether the storage class allow volume expand.',
      ),
      AGE_COLUMN,
    ],
    row: (obj, nowMs) => {
      const sc = scOf(obj);
      return [
        storageClassNameCell(obj),
        sc.provisioner ?? '',
        sc.reclaimPolicy ?? 'Delete',
        sc.volumeBindingMode ?? 'Immediate',
        sc.allowVolumeExpansion === true,
        ageCell(obj, nowMs),
      ];
    },
  },
});
