/** apps/v1 StatefulSet: pods with stable identities and stable storage. */
import type { Static } from '@sinclair/typebox';
import type { StatusCause } from '../../../lib/index.js';
import { PersistentVolumeClaimSchema } from '../../core/v1/persistent-volume-claim.js';
import { applyClaimSpecDefaults, validateClaimSpec } from '../../core/v1/persistent-volume-claim-spec.js';
import { applyPodTemplateDefaults, PodTemplateSpecSchema } from '../../core/v1/pod-spec.js';
import { AGE_COLUMN, ageCell, column, defineKind, topLevelSchema } from '../../define-kind.js';
import type { KubeObject } from '../../kind-definition.js';
import { LabelSelectorSchema } from '../../meta/v1/label-selector.js';
import { int32, int64, intOrString, list, object, str, time } from '../../schema/fields.js';
import { cloneJson, deepEqual } from '../../validation/deep-equal.js';
import {
  checkSupported,
  forbiddenCause,
  invalidCause,
  requiredCause,
} from '../../validation/field-causes.js';
import { validateIntOrPercent } from '../../validation/int-or-percent.js';
import { checkDns1123Label } from '../../validation/names.js';
import { containersCell, imagesCell, validateSelectorAndTemplate } from './workload-template.js';

export const StatefulSetSchema = topLevelSchema(
  'io.k8s.api.apps.v1.StatefulSet',
  'StatefulSet represents a set of pods with consistent identities: network (hostname) and storage.',
  {
    spec: object(
      'io.k8s.api.apps.v1.StatefulSetSpec',
      'A StatefulSetSpec is the specification of a StatefulSet.',
      {
        replicas: int32('replicas is the desired number of replicas of the given Template. Defaults to 1.'),
        selector: LabelSelectorSchema,
        template: PodTemplateSpecSchema,
        volumeClaimTemplates: list(
          PersistentVolumeClaimSchema,
          'volumeClaimTemplates is a list of claims that pods are allowed to reference.',
          { listType: 'atomic' },
        ),
        serviceName: str('serviceName is the name of the service that governs this StatefulSet.'),
        podManagementPolicy: str(
          'podManagementPolicy controls how pods are created during initial scale up, when replacing pods on nodes, or when scaling down. OrderedReady (default) or Parallel.',
        ),
        updateStrategy: object(
          'io.k8s.api.apps.v1.StatefulSetUpdateStrategy',
          'StatefulSetUpdateStrategy indicates the strategy that the StatefulSet controller will use to perform updates.',
          {
            type: str('Type indicates the type of the StatefulSetUpdateStrategy. Default is RollingUpdate.'),
            rollingUpdate: object(
              'io.k8s.api.apps.v1.RollingUpdateStatefulSetStrategy',
              'RollingUpdateStatefulSetStrategy is used to communicate parameter for RollingUpdateStatefulSetStrategyType.',
              {
                partition: int32(
                  'Partition indicates the ordinal at which the StatefulSet should be partitioned for updates. Default value is 0.',
                ),
                maxUnavailable: intOrString(
                  'The maximum number of pods that can be unavailable during the update. Defaults to 1.',
                ),
              },
            ),
          },
        ),
        revisionHistoryLimit: int32(
          "revisionHistoryLimit is the maximum number of revisions that will be maintained in the StatefulSet's revision history. Defaults to 10.",
        ),
        minReadySeconds: int32(
          'Minimum number of seconds for which a newly created pod should be ready without any of its container crashing for it to be considered available. Defaults to 0.',
        ),
        persistentVolumeClaimRetentionPolicy: object(
          'io.k8s.api.apps.v1.StatefulSetPersistentVolumeClaimRetentionPolicy',
          'StatefulSetPersistentVolumeClaimRetentionPolicy describes the policy used for PVCs created from the StatefulSet VolumeClaimTemplates.',
          {
            whenDeleted: str(
              'WhenDeleted specifies what happens to PVCs created from StatefulSet VolumeClaimTemplates when the StatefulSet is deleted. Retain (default) or Delete.',
            ),
            whenScaled: str(
              'WhenScaled specifies what happens to PVCs created from StatefulSet VolumeClaimTemplates when the StatefulSet is scaled down. Retain (default) or Delete.',
            ),
          },
        ),
        ordinals: object(
          'io.k8s.api.apps.v1.StatefulSetOrdinals',
          'StatefulSetOrdinals describes the policy used for replica ordinal assignment in this StatefulSet.',
          {
            start: int32("start is the number representing the first replica's index."),
          },
        ),
      },
      { required: ['selector', 'template'] },
    ),
    status: object(
      'io.k8s.api.apps.v1.StatefulSetStatus',
      'StatefulSetStatus represents the current state of a StatefulSet.',
      {
        observedGeneration: int64(
          'observedGeneration is the most recent generation observed for this StatefulSet.',
        ),
        replicas: int32('replicas is the number of Pods created by the StatefulSet controller.'),
        readyReplicas: int32(
          'readyReplicas is the number of pods created for this StatefulSet with a Ready Condition.',
        ),
        currentReplicas: int32(
          'currentReplicas is the number of Pods created by the StatefulSet controller from the StatefulSet version indicated by currentRevision.',
        ),
        updatedReplicas: int32(
          'updatedReplicas is the number of Pods created by the StatefulSet controller from the StatefulSet version indicated by updateRevision.',
        ),
        currentRevision: str(
          'currentRevision, if not empty, indicates the version of the StatefulSet used to generate Pods in the sequence [0,currentReplicas).',
        ),
        updateRevision: str(
          'updateRevision, if not empty, indicates the version of the StatefulSet used to generate Pods in the sequence [replicas-updatedReplicas,replicas)',
        ),
        collisionCount: int32('collisionCount is the count of hash collisions for the StatefulSet.'),
        conditions: list(
          object(
            'io.k8s.api.apps.v1.StatefulSetCondition',
            'StatefulSetCondition describes the state of a statefulset at a certain point.',
            {
              type: str('Type of statefulset condition.'),
              status: str('Status of the condition, one of True, False, Unknown.'),
              lastTransitionTime: time('Last time the condition transitioned from one status to another.'),
              reason: str("The reason for the condition's last transition."),
              message: str('A human readable message indicating details about the transition.'),
            },
            { required: ['type', 'status'] },
          ),
          "Represents the latest available observations of a statefulset's current state.",
          { mergeKey: 'type', listType: 'map', mapKeys: ['type'] },
        ),
        availableReplicas: int32(
          'Total number of available pods (ready for at least minReadySeconds) targeted by this statefulset.',
        ),
      },
    ),
  },
);

export type StatefulSet = Static<typeof StatefulSetSchema>;

function stsOf(obj: KubeObject): StatefulSet {
  return obj as unknown as StatefulSet;
}

const mutableFields = [
  'replicas',
  'ordinals',
  'template',
  'updateStrategy',
  'revisionHistoryLimit',
  'persistentVolumeClaimRetentionPolicy',
  'minReadySeconds',
] as const;

export const statefulSetKind = defineKind({
  group: 'apps',
  version: 'v1',
  kind: 'StatefulSet',
  plural: 'statefulsets',
  shortNames: ['sts'],
  categories: ['all'],
  namespaced: true,
  description: StatefulSetSchema.description ?? '',
  schema: StatefulSetSchema,
  hasStatusSubresource: true,
  tracksGeneration: true,
  scale: {
    specReplicasPath: '.spec.replicas',
    statusReplicasPath: '.status.replicas',
    labelSelectorPath: '.spec.selector',
  },
  applyDefaults(obj) {
    const spec = (stsOf(obj).spec ??= {});
    spec.replicas ??= 1;
    spec.podManagementPolicy ??= 'OrderedReady';
    const us = (spec.updateStrategy ??= {});
    us.type ??= 'RollingUpdate';
    if (us.type === 'RollingUpdate') {
      const ru = (us.rollingUpdate ??= {});
      ru.partition ??= 0;
    }
    spec.revisionHistoryLimit ??= 10;
    const retention = (spec.persistentVolumeClaimRetentionPolicy ??= {});
    retention.whenDeleted ??= 'Retain';
    retention.whenScaled ??= 'Retain';
    applyPodTemplateDefaults(spec.template);
    for (const t of spec.volumeClaimTemplates ?? []) {
      applyClaimSpecDefaults((t.spec ??= {}));
      t.apiVersion ??= 'v1';
      t.kind ??= 'PersistentVolumeClaim';
      (t.status ??= {}).phase ??= 'Pending';
    }
  },
  validate(obj, old) {
    const causes: StatusCause[] = [];
    const spec = stsOf(obj).spec ?? {};
    if (spec.replicas !== undefined && spec.replicas < 0)
      causes.push(invalidCause('spec.replicas', spec.replicas, 'must be greater than or equal to 0'));
    validateSelectorAndTemplate(causes, spec.selector, spec.template, {
      what: 'statefulset',
      restartPolicies: ['Always'],
      forbidActiveDeadline: true,
    });
    if (spec.serviceName)
      for (const msg of checkDns1123Label(spec.serviceName))
        causes.push(invalidCause('spec.serviceName', spec.serviceName, msg));
    checkSupported(causes, 'spec.podManagementPolicy', spec.podManagementPolicy, [
      'OrderedReady',
      'Parallel',
    ]);
    const us = spec.updateStrategy ?? {};
    checkSupported(causes, 'spec.updateStrategy.type', us.type, ['RollingUpdate', 'OnDelete']);
    if (us.type === 'OnDelete' && us.rollingUpdate) {
      causes.push(
        forbiddenCause(
          'spec.updateStrategy.rollingUpdate',
          "only allowed for updateStrategy 'RollingUpdate'",
        ),
      );
    }
    if (us.rollingUpdate?.partition !== undefined && us.rollingUpdate.partition < 0) {
      causes.push(
        invalidCause(
          'spec.updateStrategy.rollingUpdate.partition',
          us.rollingUpdate.partition,
          'must be greater than or equal to 0',
        ),
      );
    }
    validateIntOrPercent(
      causes,
      us.rollingUpdate?.maxUnavailable,
      'spec.updateStrategy.rollingUpdate.maxUnavailable',
    );
    if (us.rollingUpdate?.maxUnavailable === 0 || us.rollingUpdate?.maxUnavailable === '0%') {
      causes.push(
        invalidCause(
          'spec.updateStrategy.rollingUpdate.maxUnavailable',
          us.rollingUpdate.maxUnavailable,
          'must be greater than 0',
        ),
      );
    }
    const retention = spec.persistentVolumeClaimRetentionPolicy;
    checkSupported(causes, 'spec.persistentVolumeClaimRetentionPolicy.whenDeleted', retention?.whenDeleted, [
      'Retain',
      'Delete',
    ]);
    checkSupported(causes, 'spec.persistentVolumeClaimRetentionPolicy.whenScaled', retention?.whenScaled, [
      'Retain',
      'Delete',
    ]);
    for (const f of ['revisionHistoryLimit', 'minReadySeconds'] as const) {
      const v = spec[f];
      if (v !== undefined && v < 0)
        causes.push(invalidCause(`spec.${f}`, v, 'must be greater than or equal to 0'));
    }
    if (spec.ordinals?.start !== undefined && spec.ordinals.start < 0) {
      causes.push(
        invalidCause('spec.ordinals.start', spec.ordinals.start, 'must be greater than or equal to 0'),
      );
    }
    (spec.volumeClaimTemplates ?? []).forEach((t, i) => {
      if (!t.metadata?.name) causes.push(requiredCause(`spec.volumeClaimTemplates[${i}].metadata.name`));
      validateClaimSpec(causes, t.spec, `spec.volumeClaimTemplates[${i}].spec`);
    });
    if (old) {
      const prev = cloneJson(stsOf(old).spec ?? {});
      const next = cloneJson(spec);
      for (const f of mutableFields) {
        delete prev[f];
        delete next[f];
      }
      // Status of claim templates is not part of the user's intent.
      for (const t of [...(prev.volumeClaimTemplates ?? []), ...(next.volumeClaimTemplates ?? [])])
        delete t.status;
      if (!deepEqual(prev, next)) {
        causes.push(
          forbiddenCause(
            'spec',
            "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
          ),
        );
      }
    }
    return causes;
  },
  columns: [
    column('Ready', 'Number of the pod with ready state'),
    AGE_COLUMN,
    column('Containers', 'Names of each container in the template.', { priority: 1 }),
    column('Images', 'Images referenced by each container in the template.', { priority: 1 }),
  ],
  cells: (obj, nowMs) => {
    const s = stsOf(obj);
    return [
      `${s.status?.readyReplicas ?? 0}/${s.spec?.replicas ?? 0}`,
      ageCell(obj, nowMs),
      containersCell(s.spec?.template),
      imagesCell(s.spec?.template),
    ];
  },
});
