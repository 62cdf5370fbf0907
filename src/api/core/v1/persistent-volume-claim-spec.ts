/**
 * PersistentVolumeClaimSpec: shared by the PVC kind, ephemeral pod volumes and StatefulSet
 * volumeClaimTemplates.
 */
import type { Static } from '@sinclair/typebox';
import type { StatusCause } from '../../../lib/index.js';
import { LabelSelectorSchema, validateLabelSelector } from '../../meta/v1/label-selector.js';
import { ObjectMetaSchema } from '../../meta/v1/object-meta.js';
import { findQuantity, QUANTITY_INVALID_MESSAGE } from '../../resource/quantity.js';
import { mapOf, object, quantity, str, stringList } from '../../schema/fields.js';
import { checkSupported, invalidCause, requiredCause } from '../../validation/field-causes.js';
import { checkDns1123Subdomain } from '../../validation/names.js';
import { TypedLocalObjectReferenceSchema, TypedObjectReferenceSchema } from './object-reference.js';

export const ACCESS_MODES = ['ReadWriteOnce', 'ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOncePod'] as const;
export const VOLUME_MODES = ['Block', 'Filesystem'] as const;

export const VolumeResourceRequirementsSchema = object(
  'io.k8s.api.core.v1.VolumeResourceRequirements',
  'VolumeResourceRequirements describes the storage resource requirements for a volume.',
  {
    limits: mapOf(
      quantity('A quantity of a resource.'),
      'Limits describes the maximum amount of compute resources allowed.',
    ),
    requests: mapOf(
      quantity('A quantity of a resource.'),
      'Requests describes the minimum amount of compute resources required.',
    ),
  },
);

export const PersistentVolumeClaimSpecSchema = object(
  'io.k8s.api.core.v1.PersistentVolumeClaimSpec',
  'PersistentVolumeClaimSpec describes the common attributes of storage devices and allows a Source for provider-specific attributes',
  {
    accessModes: stringList('accessModes contains the desired access modes the volume should have.', {
      'x-kubernetes-list-type': 'atomic',
    }),
    selector: LabelSelectorSchema,
    resources: VolumeResourceRequirementsSchema,
    volumeName: str('volumeName is the binding reference to the PersistentVolume backing this claim.'),
    storageClassName: str('storageClassName is the name of the StorageClass required by the claim.'),
    volumeMode: str(
      'volumeMode defines what type of volume is required by the claim. Value of Filesystem is implied when not included in claim spec.',
    ),
    dataSource: TypedLocalObjectReferenceSchema,
    dataSourceRef: TypedObjectReferenceSchema,
    volumeAttributesClassName: str(
      'volumeAttributesClassName may be used to set the VolumeAttributesClass used by this claim.',
    ),
  },
);

export type PersistentVolumeClaimSpec = Static<typeof PersistentVolumeClaimSpecSchema>;

export const PersistentVolumeClaimTemplateSchema = object(
  'io.k8s.api.core.v1.PersistentVolumeClaimTemplate',
  'PersistentVolumeClaimTemplate is used to produce PersistentVolumeClaim objects as part of an EphemeralVolumeSource.',
  {
    metadata: ObjectMetaSchema,
    spec: PersistentVolumeClaimSpecSchema,
  },
  { required: ['spec'] },
);

/** Upstream defaults: volumeMode Filesystem. */
export function applyClaimSpecDefaults(spec: PersistentVolumeClaimSpec): void {
  spec.volumeMode ??= 'Filesystem';
}

/** Upstream `ValidatePersistentVolumeClaimSpec` (the parts that matter here). */
export function validateClaimSpec(
  causes: StatusCause[],
  spec: PersistentVolumeClaimSpec | undefined,
  path: string,
): void {
  if (!spec) {
    causes.push(requiredCause(path));
    return;
  }
  if (!spec.accessModes || spec.accessModes.length === 0) {
    causes.push(requiredCause(`${path}.accessModes`, 'at least 1 access mode is required'));
  }
  (spec.accessModes ?? []).forEach((m, i) =>
    checkSupported(causes, `${path}.accessModes[${i}]`, m, ACCESS_MODES),
  );
  if (spec.accessModes?.includes('ReadWriteOncePod') && spec.accessModes.length > 1) {
    causes.push(
      invalidCause(
        `${path}.accessModes`,
        spec.accessModes,
        'may not use ReadWriteOncePod with other access modes',
      ),
    );
  }
  causes.push(...validateLabelSelector(spec.selector, `${path}.selector`));
  const storage = spec.resources?.requests?.['storage'];
  if (storage === undefined) causes.push(requiredCause(`${path}.resources[storage]`));
  else {
    const v = findQuantity(storage);
    if (v === undefined)
      causes.push(invalidCause(`${path}.resources.requests[storage]`, storage, QUANTITY_INVALID_MESSAGE));
    else if (v <= 0)
      causes.push(invalidCause(`${path}.resources.requests[storage]`, storage, 'must be greater than zero'));
  }
  for (const [which, map] of [
    ['limits', spec.resources?.limits],
    ['requests', spec.resources?.requests],
  ] as const) {
    for (const [k, q] of Object.entries(map ?? {})) {
      if (k !== 'storage') continue;
      if (findQuantity(q) === undefined && which === 'limits')
        causes.push(invalidCause(`${path}.resources.${which}[${k}]`, q, QUANTITY_INVALID_MESSAGE));
    }
  }
  if (spec.storageClassName !== undefined && spec.storageClassName !== '') {
    for (const msg of checkDns1123Subdomain(spec.storageClassName))
      causes.push(invalidCause(`${path}.storageClassName`, spec.storageClassName, msg));
  }
  checkSupported(causes, `${path}.volumeMode`, spec.volumeMode, VOLUME_MODES);
  if (spec.dataSource && !spec.dataSource.name) causes.push(requiredCause(`${path}.dataSource.name`));
  if (spec.dataSource && !spec.dataSource.kind) causes.push(requiredCause(`${path}.dataSource.kind`));
}
