/** apps/v1 DaemonSet: one pod on each (selected) node. */
import type { Static } from '@sinclair/typebox';
import type { StatusCause } from '../../../lib/index.js';
import { applyPodTemplateDefaults, PodTemplateSpecSchema } from '../../core/v1/pod-spec.js';
import { AGE_COLUMN, ageCell, column, defineKind, topLevelSchema } from '../../define-kind.js';
import type { KubeObject } from '../../kind-definition.js';
import { LabelSelectorSchema } from '../../meta/v1/label-selector.js';
import { int32, int64, intOrString, list, object, str, time } from '../../schema/fields.js';
import { formatLabels } from '../../table/format-labels.js';
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

export const DaemonSetSchema = topLevelSchema(
  'io.k8s.api.apps.v1.DaemonSet',
  'DaemonSet represents the configuration of a daemon set.',
  {
    spec: object(
      'io.k8s.api.apps.v1.DaemonSetSpec',
      'DaemonSetSpec is the specification of a daemon set.',
      {
        selector: LabelSelectorSchema,
        template: PodTemplateSpecSchema,
        updateStrategy: object(
          'io.k8s.api.apps.v1.DaemonSetUpdateStrategy',
          'DaemonSetUpdateStrategy is a struct used to control the update strategy for a DaemonSet.',
          {
            type: str(
              'Type of daemon set update. Can be "RollingUpdate" or "OnDelete". Default is RollingUpdate.',
            ),
            rollingUpdate: object(
              'io.k8s.api.apps.v1.RollingUpdateDaemonSet',
              'Spec to control the desired behavior of daemon set rolling update.',
              {
                maxUnavailable: intOrString(
                  'The maximum number of DaemonSet pods that can be unavailable during the update. Default is 1.',
                ),
                maxSurge: intOrString(
                  'The maximum number of nodes with an existing available DaemonSet pod that can have an updated DaemonSet pod during during an update. Default is 0.',
                ),
              },
            ),
          },
        ),
        minReadySeconds: int32(
          'The minimum number of seconds for which a newly created DaemonSet pod should be ready without any of its container crashing, for it to be considered available. Defaults to 0.',
        ),
        revisionHistoryLimit: int32('The number of old history to retain to allow rollback. Defaults to 10.'),
      },
      { required: ['selector', 'template'] },
    ),
    status: object(
      'io.k8s.api.apps.v1.DaemonSetStatus',
      'DaemonSetStatus represents the current status of a daemon set.',
      {
        currentNumberScheduled: int32(
          'The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod.',
        ),
        numberMisscheduled: int32(
          'The number of nodes that are running the daemon pod, but are not supposed to run the daemon pod.',
        ),
        desiredNumberScheduled: int32(
          'The total number of nodes that should be running the daemon pod (including nodes correctly running the daemon pod).',
        ),
        numberReady: int32(
          'numberReady is the number of nodes that should be running the daemon pod and have one or more of the daemon pod running with a Ready Condition.',
        ),
        observedGeneration: int64('The most recent generation observed by the daemon set controller.'),
        updatedNumberScheduled: int32('The total number of nodes that are running updated daemon pod'),
        numberAvailable: int32(
          'The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)',
        ),
        numberUnavailable: int32(
          'The number of nodes that should be running the daemon pod and have none of the daemon pod running and available',
        ),
        collisionCount: int32('Count of hash collisions for the DaemonSet.'),
        conditions: list(
          object(
            'io.k8s.api.apps.v1.DaemonSetCondition',
            'DaemonSetCondition describes the state of a DaemonSet at a certain point.',
            {
              type: str('Type of DaemonSet condition.'),
              status: str('Status of the condition, one of True, False, Unknown.'),
              lastTransitionTime: time('Last time the condition transitioned from one status to another.'),
              reason: str("The reason for the condition's last transition."),
              message: str('A human readable message indicating details about the transition.'),
            },
            { required: ['type', 'status'] },
          ),
          "Represents the latest available observations of a DaemonSet's current state.",
          { mergeKey: 'type', listType: 'map', mapKeys: ['type'] },
        ),
      },
      { required: ['currentNumberScheduled', 'numberMisscheduled', 'desiredNumberScheduled', 'numberReady'] },
    ),
  },
);

export type DaemonSet = Static<typeof DaemonSetSchema>;

function dsOf(obj: KubeObject): DaemonSet {
  return obj as unknown as DaemonSet;
}

export const daemonSetKind = defineKind({
  group: 'apps',
  version: 'v1',
  kind: 'DaemonSet',
  plural: 'daemonsets',
  shortNames: ['ds'],
  categories: ['all'],
  namespaced: true,
  description: DaemonSetSchema.description ?? '',
  schema: DaemonSetSchema,
  hasStatusSubresource: true,
  tracksGeneration: true,
  applyDefaults(obj) {
    const spec = (dsOf(obj).spec ??= {});
    const us = (spec.updateStrategy ??= {});
    us.type ??= 'RollingUpdate';
    if (us.type === 'RollingUpdate') {
      const ru = (us.rollingUpdate ??= {});
      ru.maxUnavailable ??= 1;
      ru.maxSurge ??= 0;
    }
    spec.revisionHistoryLimit ??= 10;
    applyPodTemplateDefaults(spec.template);
  },
  validate(obj, old) {
    const causes: StatusCause[] = [];
    const spec = dsOf(obj).spec ?? {};
    validateSelectorAndTemplate(causes, spec.selector, spec.template, {
      what: 'daemonset',
      restartPolicies: ['Always'],
      forbidActiveDeadline: true,
    });
    const us = spec.updateStrategy ?? {};
    checkSupported(causes, 'spec.updateStrategy.type', us.type, ['RollingUpdate', 'OnDelete']);
    if (us.type === 'OnDelete' && us.rollingUpdate) {
      causes.push(
        forbiddenCause(
          'spec.updateStrategy.rollingUpdate',
          "may not be specified when strategy `type` is 'OnDelete'",
        ),
      );
    }
    const ru = us.rollingUpdate;
    if (ru) {
      validateIntOrPercent(causes, ru.maxUnavailable, 'spec.updateStrategy.rollingUpdate.maxUnavailable');
      validateIntOrPercent(causes, ru.maxSurge, 'spec.updateStrategy.rollingUpdate.maxSurge');
      if (isZeroIntOrPercent(ru.maxUnavailable) && isZeroIntOrPercent(ru.maxSurge)) {
        causes.push(
          invalidCause(
            'spec.updateStrategy.rollingUpdate.maxUnavailable',
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
    if (old && !deepEqual(dsOf(old).spec?.selector, spec.selector))
      causes.push(immutableCause('spec.selector', spec.selector ?? null));
    return causes;
  },
  columns: [
    column('Desired', 'The total number of nodes that should be running the daemon pod.', {
      type: 'integer',
    }),
    column(
      'Current',
      'The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod.',
      { type: 'integer' },
    ),
    column(
      'Ready',
      'The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready.',
      { type: 'integer' },
    ),
    column('Up-to-date', 'The total number of nodes that are running updated daemon pod', {
      type: 'integer',
    }),
    column(
      'Available',
      'The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available.',
      { type: 'integer' },
    ),
    column('Node Selector', 'NodeSelector is a selector which must be true for the pod to fit on a node.'),
    AGE_COLUMN,
    column('Containers', 'Names of each container in the template.', { priority: 1 }),
    column('Images', 'Images referenced by each container in the template.', { priority: 1 }),
    column('Selector', 'A label query over pods that are managed by the daemon set.', { priority: 1 }),
  ],
  cells: (obj, nowMs) => {
    const ds = dsOf(obj);
    const st = ds.status ?? {};
    return [
      st.desiredNumberScheduled ?? 0,
      st.currentNumberScheduled ?? 0,
      st.numberReady ?? 0,
      st.updatedNumberScheduled ?? 0,
      st.numberAvailable ?? 0,
      formatLabels(ds.spec?.template?.spec?.nodeSelector),
      ageCell(obj, nowMs),
      containersCell(ds.spec?.template),
      imagesCell(ds.spec?.template),
      selectorCell(ds.spec?.selector),
    ];
  },
});
