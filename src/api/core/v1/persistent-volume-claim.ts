/** core/v1 PersistentVolumeClaim: a user's request for storage. */
import type { Static } from '@sinclair/typebox';
import type { StatusCause } from '../../../lib/index.js';
import { AGE_COLUMN, ageCell, column, defineKind, ensureRecord, topLevelSchema } from '../../define-kind.js';
import type { KubeObject } from '../../kind-definition.js';
import { findQuantity } from '../../resource/quantity.js';
import { list, mapOf, object, quantity, str, stringList, time } from '../../schema/fields.js';
import { cloneJson, deepEqual } from '../../validation/deep-equal.js';
import { forbiddenCause, invalidCause } from '../../validation/field-causes.js';
import {
  applyClaimSpecDefaults,
  PersistentVolumeClaimSpecSchema,
  validateClaimSpec,
  type PersistentVolumeClaimSpec,
} from './persistent-volume-claim-spec.js';

export const PersistentVolumeClaimStatusSchema = object(
  'io.k8s.api.core.v1.PersistentVolumeClaimStatus',
  'PersistentVolumeClaimStatus is the current status of a persistent volume claim.',
  {
    phase: str('phase represents the current phase of PersistentVolumeClaim: Pending, Bound, Lost.'),
    accessModes: stringList('accessModes contains the actual access modes the volume backing the PVC has.', {
      'x-kubernetes-list-type': 'atomic',
    }),
    capacity: mapOf(
      quantity('A quantity of a resource.'),
      'capacity represents the actual resources of the underlying volume.',
    ),
    conditions: list(
      object(
        'io.k8s.api.core.v1.PersistentVolumeClaimCondition',
        'PersistentVolumeClaimCondition contains details about state of pvc',
        {
          type: str('Type is the type of the condition.'),
          status: str('Status is the status of the condition.'),
          lastProbeTime: time('lastProbeTime is the time we probed the condition.'),
          lastTransitionTime: time(
            'lastTransitionTime is the time the condition transitioned from one status to another.',
          ),
          reason: str(
            "reason is a unique, this should be a short, machine understandable string that gives the reason for condition's last transition.",
          ),
          message: str('message is the human-readable message indicating details about last transition.'),
        },
        { required: ['type', 'status'] },
      ),
      'conditions is the current Condition of persistent volume claim.',
      { mergeKey: 'type', listType: 'map', mapKeys: ['type'] },
    ),
    allocatedResources: mapOf(
      quantity('A quantity of a resource.'),
      'allocatedResources tracks the resources allocated to a PVC including its capacity.',
    ),
    allocatedResourceStatuses: mapOf(
      str('A resize status.'),
      'allocatedResourceStatuses stores status of resource being resized for the given PVC.',
    ),
    currentVolumeAttributesClassName: str(
      'currentVolumeAttributesClassName is the current name of the VolumeAttributesClass the PVC is using.',
    ),
  },
);

export const PersistentVolumeClaimSchema = topLevelSchema(
  'io.k8s.api.core.v1.PersistentVolumeClaim',
  "PersistentVolumeClaim is a user's request for and claim to a persistent volume",
  {
    spec: PersistentVolumeClaimSpecSchema,
    status: PersistentVolumeClaimStatusSchema,
  },
);

export type PersistentVolumeClaim = Static<typeof PersistentVolumeClaimSchema>;

function pvcOf(obj: KubeObject): PersistentVolumeClaim {
  return obj as unknown as PersistentVolumeClaim;
}

/** `RWO,ROX,RWX,RWOP` as kubectl abbreviates access modes. */
export function accessModesCell(modes: readonly string[] | undefined): string {
  const short: Record<string, string> = {
    ReadWriteOnce: 'RWO',
    ReadOnlyMany: 'ROX',
    ReadWriteMany: 'RWX',
    ReadWriteOncePod: 'RWOP',
  };
  const out: string[] = [];
  for (const m of ['ReadWriteOnce', 'ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOncePod']) {
    if (modes?.includes(m)) out.push(short[m] as string);
  }
  return out.join(',');
}

function validateClaimUpdate(
  causes: StatusCause[],
  spec: PersistentVolumeClaimSpec,
  old: PersistentVolumeClaimSpec,
): void {
  const probe = cloneJson(spec);
  // Storage may grow (volume expansion), never shrink.
  const newReq = spec.resources?.requests?.['storage'];
  const oldReq = old.resources?.requests?.['storage'];
  if (newReq !== undefined && oldReq !== undefined) {
    const n = findQuantity(newReq);
    const o = findQuantity(oldReq);
    if (n !== undefined && o !== undefined && n < o) {
      causes.push(
        forbiddenCause('spec.resources.requests.storage', 'field can not be less than previous value'),
      );
    }
  }
  const oldProbe = cloneJson(old);
  // Requests may change (growth only, checked above); binding fills volumeName once.
  delete probe.resources;
  delete oldProbe.resources;
  if (!old.volumeName) {
    delete probe.volumeName;
    delete oldProbe.volumeName;
  }
  delete probe.volumeAttributesClassName;
  delete oldProbe.volumeAttributesClassName;
  if (!deepEqual(probe, oldProbe)) {
    causes.push(
      forbiddenCause(
        'spec',
        'spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims',
      ),
    );
  }
}

export const persistentVolumeClaimKind = defineKind({
  group: '',
  version: 'v1',
  kind: 'PersistentVolumeClaim',
  plural: 'persistentvolumeclaims',
  shortNames: ['pvc'],
  namespaced: true,
  description: PersistentVolumeClaimSchema.description ?? '',
  schema: PersistentVolumeClaimSchema,
  hasStatusSubresource: true,
  applyDefaults(obj, ctx) {
    const pvc = pvcOf(obj);
    applyClaimSpecDefaults((pvc.spec ??= {}));
    if (ctx.operation === 'create') {
      const status = ensureRecord(obj, 'status') as NonNullable<PersistentVolumeClaim['status']>;
      status.phase ??= 'Pending';
    }
  },
  validate(obj, old) {
    const causes: StatusCause[] = [];
    const pvc = pvcOf(obj);
    validateClaimSpec(causes, pvc.spec, 'spec');
    if (old && pvc.spec) {
      const prev = pvcOf(old).spec;
      if (prev) validateClaimUpdate(causes, pvc.spec, prev);
    }
    const phase = pvc.status?.phase;
    if (phase !== undefined && !['Pending', 'Bound', 'Lost'].includes(phase)) {
      causes.push(invalidCause('status.phase', phase, 'must be one of Pending, Bound, Lost'));
    }
    return causes;
  },
  columns: [
    column('Status', 'phase represents the current phase of PersistentVolumeClaim'),
    column('Volume', 'volumeName is the binding reference to the PersistentVolume backing this claim.'),
    column('Capacity', 'capacity represents the actual resources of the underlying volume.'),
    column('Access Modes', 'accessModes contains the desired access modes the volume should have.'),
    column('StorageClass', 'storageClassName is the name of the StorageClass required by the claim.'),
    column(
      'VolumeAttributesClass',
      'volumeAttributesClassName may be used to set the VolumeAttributesClass used by this claim.',
    ),
    AGE_COLUMN,
    column('VolumeMode', 'volumeMode defines what type of volume is required by the claim.', { priority: 1 }),
  ],
  cells: (obj, nowMs) => {
    const pvc = pvcOf(obj);
    const phase = obj.metadata.deletionTimestamp ? 'Terminating' : (pvc.status?.phase ?? '');
    const bound = Boolean(pvc.spec?.volumeName);
    const capacity = bound ? String(pvc.status?.capacity?.['storage'] ?? '') : '';
    const modes = bound ? accessModesCell(pvc.status?.accessModes) : '';
    return [
      phase,
      pvc.spec?.volumeName ?? '',
      capacity,
      modes,
      pvc.spec?.storageClassName ??
        obj.metadata.annotations?.['volume.beta.kubernetes.io/storage-class'] ??
        '',
      pvc.spec?.volumeAttributesClassName || '<unset>',
      ageCell(obj, nowMs),
      pvc.spec?.volumeMode ?? '<unset>',
    ];
  },
});
