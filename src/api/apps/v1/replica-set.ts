/** apps/v1 ReplicaSet: ensures that a specified number of pod replicas are running. */
import type { Static } from '@sinclair/typebox';
import type { StatusCause } from '../../../lib/index.js';
import { applyPodTemplateDefaults, PodTemplateSpecSchema } from '../../core/v1/pod-spec.js';
import { AGE_COLUMN, ageCell, column, defineKind, topLevelSchema } from '../../define-kind.js';
import type { KubeObject } from '../../kind-definition.js';
import { LabelSelectorSchema } from '../../meta/v1/label-selector.js';
import { int32, int64, list, object, str, time } from '../../schema/fields.js';
import { deepEqual } from '../../validation/deep-equal.js';
import { immutableCause, invalidCause } from '../../validation/field-causes.js';
import {
  containersCell,
  imagesCell,
  selectorCell,
  validateSelectorAndTemplate,
} from './workload-template.js';

export const ReplicaSetSchema = topLevelSchema(
  'io.k8s.api.apps.v1.ReplicaSet',
  'ReplicaSet ensures that a specified number of pod replicas are running at any given time.',
  {
    spec: object(
      'io.k8s.api.apps.v1.ReplicaSetSpec',
      'ReplicaSetSpec is the specification of a ReplicaSet.',
      {
        replicas: int32('Replicas is the number of desired pods. Defaults to 1.'),
        minReadySeconds: int32(
          'Minimum number of seconds for which a newly created pod should be ready without any of its container crashing, for it to be considered available. Defaults to 0.',
        ),
        selector: LabelSelectorSchema,
        template: PodTemplateSpecSchema,
      },
      { required: ['selector'] },
    ),
    status: object(
      'io.k8s.api.apps.v1.ReplicaSetStatus',
      'ReplicaSetStatus represents the current status of a ReplicaSet.',
      {
        replicas: int32('Replicas is the most recently observed number of non-terminating pods.'),
        fullyLabeledReplicas: int32(
          'The number of non-terminating pods that have labels matching the labels of the pod template of the replicaset.',
        ),
        readyReplicas: int32(
          'The number of non-terminating pods targeted by this ReplicaSet with a Ready Condition.',
        ),
        availableReplicas: int32(
          'The number of available non-terminating pods (ready for at least minReadySeconds) for this replica set.',
        ),
        terminatingReplicas: int32('The number of terminating pods for this replica set.'),
        observedGeneration: int64(
          'ObservedGeneration reflects the generation of the most recently observed ReplicaSet.',
        ),
        conditions: list(
          object(
            'io.k8s.api.apps.v1.ReplicaSetCondition',
            'ReplicaSetCondition describes the state of a replica set at a certain point.',
            {
              type: str('Type of replica set condition.'),
              status: str('Status of the condition, one of True, False, Unknown.'),
              lastTransitionTime: time(
                'The last time the condition transitioned from one status to another.',
              ),
              reason: str("The reason for the condition's last transition."),
              message: str('A human readable message indicating details about the transition.'),
            },
            { required: ['type', 'status'] },
          ),
          "Represents the latest available observations of a replica set's current state.",
          { mergeKey: 'type', listType: 'map', mapKeys: ['type'] },
        ),
      },
    ),
  },
);

export type ReplicaSet = Static<typeof ReplicaSetSchema>;

function rsOf(obj: KubeObject): ReplicaSet {
  return obj as unknown as ReplicaSet;
}

export const replicaSetKind = defineKind({
  group: 'apps',
  version: 'v1',
  kind: 'ReplicaSet',
  plural: 'replicasets',
  shortNames: ['rs'],
  categories: ['all'],
  namespaced: true,
  description: ReplicaSetSchema.description ?? '',
  schema: ReplicaSetSchema,
  hasStatusSubresource: true,
  tracksGeneration: true,
  scale: {
    specReplicasPath: '.spec.replicas',
    statusReplicasPath: '.status.replicas',
    labelSelectorPath: '.spec.selector',
  },
  applyDefaults(obj) {
    const spec = (rsOf(obj).spec ??= {});
    spec.replicas ??= 1;
    applyPodTemplateDefaults(spec.template);
  },
  validate(obj, old) {
    const causes: StatusCause[] = [];
    const spec = rsOf(obj).spec ?? {};
    if (spec.replicas !== undefined && spec.replicas < 0)
      causes.push(invalidCause('spec.replicas', spec.replicas, 'must be greater than or equal to 0'));
    if (spec.minReadySeconds !== undefined && spec.minReadySeconds < 0)
      causes.push(
        invalidCause('spec.minReadySeconds', spec.minReadySeconds, 'must be greater than or equal to 0'),
      );
    validateSelectorAndTemplate(causes, spec.selector, spec.template, {
      what: 'replicaset',
      restartPolicies: ['Always'],
      forbidActiveDeadline: true,
    });
    if (old && !deepEqual(rsOf(old).spec?.selector, spec.selector))
      causes.push(immutableCause('spec.selector', spec.selector ?? null));
    return causes;
  },
  columns: [
    column('Desired', 'Replicas is the number of desired replicas.', { type: 'integer' }),
    column('Current', 'Replicas is the most recently observed number of replicas.', { type: 'integer' }),
    column('Ready', 'The number of ready replicas for this replica set.', { type: 'integer' }),
    AGE_COLUMN,
    column('Containers', 'Names of each container in the template.', { priority: 1 }),
    column('Images', 'Images referenced by each container in the template.', { priority: 1 }),
    column('Selector', 'Selector is a label query over pods that should match the replica count.', {
      priority: 1,
    }),
  ],
  cells: (obj, nowMs) => {
    const rs = rsOf(obj);
    return [
      rs.spec?.replicas ?? 0,
      rs.status?.replicas ?? 0,
      rs.status?.readyReplicas ?? 0,
      ageCell(obj, nowMs),
      containersCell(rs.spec?.template),
      imagesCell(rs.spec?.template),
      selectorCell(rs.spec?.selector),
    ];
  },
});
