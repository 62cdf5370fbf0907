/** core/v1 PersistentVolume: a piece of storage in the cluster (cinder, csi, hostPath, local, nfs). */
import type { Static } from '@sinclair/typebox';
import type { StatusCause } from '../../../lib/index.js';
import { AGE_COLUMN, ageCell, column, defineKind, ensureRecord, topLevelSchema } from '../../define-kind.js';
import type { KubeObject } from '../../kind-definition.js';
import { findQuantity, QUANTITY_INVALID_MESSAGE } from '../../resource/quantity.js';
import { bool, mapOf, object, quantity, str, stringList, stringMap, time } from '../../schema/fields.js';
import {
  checkSupported,
  forbiddenCause,
  immutableCause,
  invalidCause,
  requiredCause,
} from '../../validation/field-causes.js';
import { checkDns1123Subdomain } from '../../validation/names.js';
import { ObjectReferenceSchema, SecretReferenceSchema } from './object-reference.js';
import { ACCESS_MODES, VOLUME_MODES } from './persistent-volume-claim-spec.js';
import { accessModesCell } from './persistent-volume-claim.js';
import { NodeSelectorSchema } from './scheduling-constraints.js';
import { HostPathVolumeSourceSchema, NFSVolumeSourceSchema, SUPPORTED_FS_TYPES } from './volume.js';

const SOURCE_KEYS = ['hostPath', 'local', 'nfs', 'cinder', 'csi'] as const;

export const PersistentVolumeSchema = topLevelSchema(
  'io.k8s.api.core.v1.PersistentVolume',
  'PersistentVolume (PV) is a storage resource provisioned by an administrator. It is analogous to a node.',
  {
    spec: object(
      'io.k8s.api.core.v1.PersistentVolumeSpec',
      'PersistentVolumeSpec is the specification of a persistent volume.',
      {
        capacity: mapOf(
          quantity('A quantity of a resource.'),
          "capacity is the description of the persistent volume's resources and capacity.",
        ),
        hostPath: HostPathVolumeSourceSchema,
        local: object(
          'io.k8s.api.core.v1.LocalVolumeSource',
          'Local represents directly-attached storage with node affinity',
          {
            path: str('path of the full path to the volume on the node.'),
            fsType: str(
              'fsType is the filesystem type to mount. It applies only when the Path is a block device.',
            ),
          },
          { required: ['path'] },
        ),
        nfs: NFSVolumeSourceSchema,
        cinder: object(
          'io.k8s.api.core.v1.CinderPersistentVolumeSource',
          'Represents a cinder volume resource in Openstack, attached straight into the pod VM by h8s.',
          {
            volumeID: str('volumeID used to identify the volume in cinder.'),
            fsType: str('fsType Filesystem type to mount. Implicitly inferred to be "ext4" if unspecified.'),
            readOnly: bool('readOnly is Optional: Defaults to false (read/write).'),
            secretRef: SecretReferenceSchema,
          },
          { required: ['volumeID'] },
        ),
        csi: object(
          'io.k8s.api.core.v1.CSIPersistentVolumeSource',
          'Represents storage that is managed by an external CSI volume driver',
          {
            driver: str('driver is the name of the driver to use for this volume. Required.'),
            volumeHandle: str(
              'volumeHandle is the unique volume name returned by the CSI volume plugin. Required.',
            ),
            readOnly: bool(
              'readOnly value to pass to ControllerPublishVolumeRequest. Defaults to false (read/write).',
            ),
            fsType: str('fsType to mount.'),
            volumeAttributes: stringMap('volumeAttributes of the volume to publish.'),
            controllerPublishSecretRef: SecretReferenceSchema,
            nodeStageSecretRef: SecretReferenceSchema,
            nodePublishSecretRef: SecretReferenceSchema,
            controllerExpandSecretRef: SecretReferenceSchema,
            nodeExpandSecretRef: SecretReferenceSchema,
          },
          { required: ['driver', 'volumeHandle'] },
        ),
        accessModes: stringList('accessModes contains all ways the volume can be mounted.', {
          'x-kubernetes-list-type': 'atomic',
        }),
        claimRef: ObjectReferenceSchema,
        persistentVolumeReclaimPolicy: str(
          'persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim. Valid options are Retain (default for manually created PersistentVolumes), Delete (default for dynamically provisioned PersistentVolumes), and Recycle (deprecated).',
        ),
        storageClassName: str(
          'storageClassName is the name of StorageClass to which this persistent volume belongs.',
        ),
        mountOptions: stringList('mountOptions is the list of mount options, e.g. ["ro", "soft"].', {
          'x-kubernetes-list-type': 'atomic',
        }),
        volumeMode: str(
          'volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state. Value of Filesystem is implied when not included in spec.',
        ),
        nodeAffinity: object(
          'io.k8s.api.core.v1.VolumeNodeAffinity',
          'VolumeNodeAffinity defines constraints that limit what nodes this volume can be accessed from.',
          {
            required: NodeSelectorSchema,
          },
        ),
        volumeAttributesClassName: str(
          'Name of VolumeAttributesClass to which this persistent volume belongs.',
        ),
      },
    ),
    status: object(
      'io.k8s.api.core.v1.PersistentVolumeStatus',
      'PersistentVolumeStatus is the current status of a persistent volume.',
      {
        phase: str(
          'phase indicates if a volume is available, bound to a claim, or released by a claim: Pending, Available, Bound, Released, Failed.',
        ),
        message: str(
          'message is a human-readable message indicating details about why the volume is in this state.',
        ),
        reason: str(
          'reason is a brief CamelCase string that describes any failure and is meant for machine parsing and tidy display in the CLI.',
        ),
        lastPhaseTransitionTime: time(
          'lastPhaseTransitionTime is the time the phase transitioned from one to another.',
        ),
      },
    ),
  },
);

export type PersistentVolume = Static<typeof PersistentVolumeSchema>;

function pvOf(obj: KubeObject): PersistentVolume {
  return obj as unknown as PersistentVolume;
}

export const persistentVolumeKind = defineKind({
  group: '',
  version: 'v1',
  kind: 'PersistentVolume',
  plural: 'persistentvolumes',
  shortNames: ['pv'],
  namespaced: false,
  description: PersistentVolumeSchema.description ?? '',
  schema: PersistentVolumeSchema,
  hasStatusSubresource: true,
  applyDefaults(obj, ctx) {
    const spec = (pvOf(obj).spec ??= {});
    spec.persistentVolumeReclaimPolicy ??= 'Retain';
    spec.volumeMode ??= 'Filesystem';
    if (ctx.operation === 'create') {
      const status = ensureRecord(obj, 'status') as NonNullable<PersistentVolume['status']>;
      status.phase ??= 'Pending';
    }
  },
  validate(obj, old) {
    const causes: StatusCause[] = [];
    const spec = pvOf(obj).spec ?? {};
    const storage = spec.capacity?.['storage'];
    if (storage === undefined) causes.push(requiredCause('spec.capacity'));
    else if (findQuantity(storage) === undefined)
      causes.push(invalidCause('spec.capacity[storage]', storage, QUANTITY_INVALID_MESSAGE));
    if (!spec.accessModes || spec.accessModes.length === 0) causes.push(requiredCause('spec.accessModes'));
    (spec.accessModes ?? []).forEach((m, i) =>
      checkSupported(causes, `spec.accessModes[${i}]`, m, ACCESS_MODES),
    );
    const sources = SOURCE_KEYS.filter((k) => spec[k] !== undefined);
    if (sources.length === 0) causes.push(requiredCause('spec', 'must specify a volume type'));
    else if (sources.length > 1)
      causes.push(forbiddenCause(`spec.${sources[1]}`, 'may not specify more than 1 volume type'));
    if (spec.cinder) {
      if (!spec.cinder.volumeID) causes.push(requiredCause('spec.cinder.volumeID'));
      checkSupported(
        causes,
        'spec.cinder.fsType',
        spec.cinder.fsType === '' ? undefined : spec.cinder.fsType,
        SUPPORTED_FS_TYPES,
      );
    }
    if (spec.hostPath && !spec.hostPath.path) causes.push(requiredCause('spec.hostPath.path'));
    if (spec.local) {
      if (!spec.local.path) causes.push(requiredCause('spec.local.path'));
      if (!spec.nodeAffinity)
        causes.push(requiredCause('spec.nodeAffinity', 'Local volumes require node affinity'));
    }
    if (spec.nfs) {
      if (!spec.nfs.server) causes.push(requiredCause('spec.nfs.server'));
      if (!spec.nfs.path) causes.push(requiredCause('spec.nfs.path'));
    }
    if (spec.csi) {
      if (!spec.csi.driver) causes.push(requiredCause('spec.csi.driver'));
      if (!spec.csi.volumeHandle) causes.push(requiredCause('spec.csi.volumeHandle'));
    }
    checkSupported(causes, 'spec.persistentVolumeReclaimPolicy', spec.persistentVolumeReclaimPolicy, [
      'Retain',
      'Delete',
      'Recycle',
    ]);
    checkSupported(causes, 'spec.volumeMode', spec.volumeMode, VOLUME_MODES);
    if (spec.storageClassName) {
      for (const msg of checkDns1123Subdomain(spec.storageClassName))
        causes.push(invalidCause('spec.storageClassName', spec.storageClassName, msg));
    }
    checkSupported(causes, 'status.phase', pvOf(obj).status?.phase, [
      'Pending',
      'Available',
      'Bound',
      'Released',
      'Failed',
    ]);
    if (old) {
      const prev = pvOf(old).spec ?? {};
      for (const k of SOURCE_KEYS) {
        if (JSON.stringify(prev[k]) !== JSON.stringify(spec[k]))
          causes.push(immutableCause(`spec.${k}`, spec[k] ?? null));
      }
      if ((prev.volumeMode ?? 'Filesystem') !== (spec.volumeMode ?? 'Filesystem'))
        causes.push(immutableCause('spec.volumeMode', spec.volumeMode ?? ''));
    }
    return causes;
  },
  columns: [
    column('Capacity', "capacity is the description of the persistent volume's resources and capacity."),
    column('Access Modes', 'accessModes contains all ways the volume can be mounted.'),
    column(
      'Reclaim Policy',
      'persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim.',
    ),
    column('Status', 'phase indicates if a volume is available, bound to a claim, or released by a claim.'),
    column(
      'Claim',
      'claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim.',
    ),
    column(
      'StorageClass',
      'storageClassName is the name of StorageClass to which this persistent volume belongs.',
    ),
    column('VolumeAttributesClass', 'Name of VolumeAttributesClass to which this persistent volume belongs.'),
    column('Reason', 'reason is a brief CamelCase string that describes any failure.'),
    AGE_COLUMN,
    column(
      'VolumeMode',
      'volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state.',
      { priority: 1 },
    ),
  ],
  cells: (obj, nowMs) => {
    const pv = pvOf(obj);
    const claim = pv.spec?.claimRef
      ? `${pv.spec.claimRef.namespace ?? ''}/${pv.spec.claimRef.name ?? ''}`
      : '';
    const phase = obj.metadata.deletionTimestamp ? 'Terminating' : (pv.status?.phase ?? '');
    return [
      String(pv.spec?.capacity?.['storage'] ?? ''),
      accessModesCell(pv.spec?.accessModes),
      pv.spec?.persistentVolumeReclaimPolicy ?? '',
      phase,
      claim,
      pv.spec?.storageClassName ?? '',
      pv.spec?.volumeAttributesClassName || '<unset>',
      pv.status?.reason ?? '',
      ageCell(obj, nowMs),
      pv.spec?.volumeMode ?? '<unset>',
    ];
  },
});
