/** apps/v1 Deployment: declarative updates for Pods and ReplicaSets. */
import type { Static } from '@sinclair/typebox';
import type { StatusCause } from '../../../lib/index.js';
import { applyPodTemplateDefaults, PodTemplateSpecSchema } from '../../core/v1/pod-spec.js';
import { AGE_COLUMN, ageCell, column, defineKind, topLevelSchema } from '../../define-kind.js';
import type { KubeObject } from '../../kind-definition.js';
import { LabelSelectorSchema } from '../../meta/v1/label-selector.js';
import { bool, int32, int64, intOrString, list, object, str, time } from '../../schema/fields.js';
import { deepEqual } from '../../validation/deep-equal.js';
import {
  checkSupported,
  forbiddenCause,
  immutableCause,
  invalidCause,
} from '../../validation/field-causes.js';
import { isZeroIntOrPercent, validateIntOrPercent } from '../../validation/int-or-percent.js';
import {
  containersCell,
  imagesCell,
  selectorCell,
  validateSelectorAndTemplate,
} from './workload-template.js';

export const DeploymentSchema = topLevelSchema(
  'io.k8s.api.apps.v1.Deployment',
  'Deployment enables declarative updates for Pods and ReplicaSets.',
  {
    spec: object(
      'io.k8s.api.apps.v1.DeploymentSpec',
      'DeploymentSpec is the specification of the desired behavior of the Deployment.',
      {
        replicas: int32(
          'Number of desired pods. This is a pointer to distinguish between explicit zero and not specified. Defaults to 1.',
        ),
        selector: LabelSelectorSchema,
        template: PodTemplateSpecSchema,
        strategy: object(
          'io.k8s.api.apps.v1.DeploymentStrategy',
          'DeploymentStrategy describes how to replace existing pods with new ones.',
          {
            type: str('Type of deployment. Can be "Recreate" or "RollingUpdate". Default is RollingUpdate.'),
            rollingUpdate: object(
              'io.k8s.api.apps.v1.RollingUpdateDeployment',
              'Spec to control the desired behavior of rolling update.',
              {
                maxUnavailable: intOrString(
                  'The maximum number of pods that can be unavailable during the update. Value can be an absolute number (ex: 5) or a percentage of desired pods (ex: 10%). Defaults to 25%.',
                ),
                maxSurge: intOrString(
                  'The maximum number of pods that can be scheduled above the desired number of pods. Value can be an absolute number (ex: 5) or a percentage of desired pods (ex: 10%). Defaults to 25%.',
                ),
              },
            ),
          },
        ),
        minReadySeconds: int32(
          'Minimum number of seconds for which a newly created pod should be ready without any of its container crashing, for it to be considered available. Defaults to 0.',
        ),
        revisionHistoryLimit: int32(
          'The number of old ReplicaSets to retain to allow rollback. Defaults to 10.',
        ),
        paused: bool('Indicates that the deployment is paused.'),
        progressDeadlineSeconds: int32(
          'The maximum time in seconds for a deployment to make progress before it is considered to be failed. Defaults to 600s.',
        ),
      },
      { required: ['selector', 'template'] },
    ),
    status: object(
      'io.k8s.api.apps.v1.DeploymentStatus',
      'DeploymentStatus is the most recently observed status of the Deployment.',
      {
        observedGeneration: int64('The generation observed by the deployment controller.'),
        replicas: int32(
          'Total number of non-terminating pods targeted by this deployment (their labels match the selector).',
        ),
        updatedReplicas: int32(
          'Total number of non-terminating pods targeted by this deployment that have the desired template spec.',
        ),
        readyReplicas: int32(
          'Total number of non-terminating pods targeted by this Deployment with a Ready Condition.',
        ),
        availableReplicas: int32(
          'Total number of available non-terminating pods (ready for at least minReadySeconds) targeted by this deployment.',
        ),
        unavailableReplicas: int32('Total number of unavailable pods targeted by this deployment.'),
        terminatingReplicas: int32('Total number of terminating pods targeted by this deployment.'),
        conditions: list(
          object(
            'io.k8s.api.apps.v1.DeploymentCondition',
            'DeploymentCondition describes the state of a deployment at a certain point.',
            {
              type: str('Type of deployment condition: Available, Progressing, ReplicaFailure.'),
              status: str('Status of the condition, one of True, False, Unknown.'),
              lastUpdateTime: time('The last time this condition was updated.'),
              lastTransitionTime: time('Last time the condition transitioned from one status to another.'),
              reason: str("The reason for the condition's last transition."),
              message: str('A human readable message indicating details about the transition.'),
            },
            { required: ['type', 'status'] },
          ),
          "Represents the latest available observations of a deployment's current state.",
          { mergeKey: 'type', listType: 'map', mapKeys: ['type'] },
        ),
        collisionCount: int32(
          'Count of hash collisions for the Deployment. The Deployment controller uses this field as a collision avoidance mechanism when it needs to create the name for the newest ReplicaSet.',
        ),
      },
    ),
  },
);

export type Deployment = Static<typeof DeploymentSchema>;

function deployOf(obj: KubeObject): Deployment {
  return obj as unknown as Deployment;
}

export const deploymentKind = defineKind({
  group: 'apps',
  version: 'v1',
  kind: 'Deployment',
  plural: 'deployments',
  shortNames: ['deploy'],
  categories: ['all'],
  namespaced: true,
  description: DeploymentSchema.description ?? '',
  schema: DeploymentSchema,
  hasStatusSubresource: true,
  tracksGeneration: true,
  scale: {
    specReplicasPath: '.spec.replicas',
    statusReplicasPath: '.status.replicas',
    labelSelectorPath: '.spec.selector',
  },
  applyDefaults(obj) {
    const spec = (deployOf(obj).spec ??= {});
    spec.replicas ??= 1;
    const strategy = (spec.strategy ??= {});
    strategy.type ??= 'RollingUpdate';
    if (strategy.type === 'RollingUpdate') {
      const ru = (strategy.rollingUpdate ??= {});
      ru.maxUnavailable ??= '25%';
      ru.maxSurge ??= '25%';
    }
    spec.revisionHistoryLimit ??= 10;
    spec.progressDeadlineSeconds ??= 600;
    applyPodTemplateDefaults(spec.template);
  },
  validate(obj, old) {
    const causes: StatusCause[] = [];
    const spec = deployOf(obj).spec ?? {};
    if (spec.replicas !== undefined && spec.replicas < 0)
      causes.push(invalidCause('spec.replicas', spec.replicas, 'must be greater than or equal to 0'));
    validateSelectorAndTemplate(causes, spec.selector, spec.template, {
      what: 'deployment',
      restartPolicies: ['Always'],
      forbidActiveDeadline: true,
    });
    const strategy = spec.strategy ?? {};
    checkSupported(causes, 'spec.strategy.type', strategy.type, ['Recreate', 'RollingUpdate']);
    if (strategy.type === 'Recreate' && strategy.rollingUpdate) {
      causes.push(
        forbiddenCause(
          'spec.strategy.rollingUpdate',
          "may not be specified when strategy `type` is 'Recreate'",
        ),
      );
    }
    const ru = strategy.rollingUpdate;
    if (ru) {
      validateIntOrPercent(causes, ru.maxUnavailable, 'spec.strategy.rollingUpdate.maxUnavailable');
      validateIntOrPercent(causes, ru.maxSurge, 'spec.strategy.rollingUpdate.maxSurge', false);
      if (isZeroIntOrPercent(ru.maxUnavailable) && isZeroIntOrPercent(ru.maxSurge)) {
        causes.push(
          invalidCause(
            'spec.strategy.rollingUpdate.maxUnavailable',
            ru.maxUnavailable,
            'may not be 0 when `maxSurge` is 0',
          ),
        );
      }
    }
    for (const f of ['minReadySeconds', 'revisionHistoryLimit'] as const) {
      const v = spec[f];
      if (v !== undefined && v < 0)
        causes.push(invalidCause(`spec.${f}`, v, 'must be greater than or equal to 0'));
    }
    if (spec.progressDeadlineSeconds !== undefined) {
      if (spec.progressDeadlineSeconds < 0)
        causes.push(
          invalidCause(
            'spec.progressDeadlineSeconds',
            spec.progressDeadlineSeconds,
            'must be greater than or equal to 0',
          ),
        );
      else if (spec.progressDeadlineSeconds <= (spec.minReadySeconds ?? 0)) {
        causes.push(
          invalidCause(
            'spec.progressDeadlineSeconds',
            spec.progressDeadlineSeconds,
            'must be greater than minReadySeconds',
          ),
        );
      }
    }
    if (old) {
      const prev = deployOf(old).spec ?? {};
      if (!deepEqual(prev.selector, spec.selector))
        causes.push(immutableCause('spec.selector', spec.selector ?? null));
    }
    return causes;
  },
  columns: [
    column('Ready', 'Number of the pod with ready state'),
    column(
      'Up-to-date',
      'Total number of non-terminated pods targeted by this deployment that have the desired template spec.',
      { type: 'integer' },
    ),
    column(
      'Available',
      'Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.',
      { type: 'integer' },
    ),
    AGE_COLUMN,
    column('Containers', 'Names of each container in the template.', { priority: 1 }),
    column('Images', 'Images referenced by each container in the template.', { priority: 1 }),
    column(
      'Selector',
      'Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.',
      { priority: 1 },
    ),
  ],
  cells: (obj, nowMs) => {
    const d = deployOf(obj);
    return [
      `${d.status?.readyReplicas ?? 0}/${d.spec?.replicas ?? 0}`,
      d.status?.updatedReplicas ?? 0,
      d.status?.availableReplicas ?? 0,
      ageCell(obj, nowMs),
      containersCell(d.spec?.template),
      imagesCell(d.spec?.template),
      selectorCell(d.spec?.selector),
    ];
  },
});
