/**
 * core/v1 Pod: a group of containers run together; in h8s one pod is one VM (runtime `hyper`)
 * or one set of runc containers.
 */
import type { Static } from '@sinclair/typebox';
import type { StatusCause } from '../../../lib/index.js';
import { ageCell, column, defineKind, ensureRecord, topLevelSchema } from '../../define-kind.js';
import type { KubeObject } from '../../kind-definition.js';
import { cloneJson, deepEqual } from '../../validation/deep-equal.js';
import { forbiddenCause, invalidCause, requiredCause } from '../../validation/field-causes.js';
import { applyPodSpecDefaults, PodSpecSchema, validatePodSpec, type PodSpec } from './pod-spec.js';
import {
  podQosClass,
  podSummaryCells,
  PodStatusSchema,
  readinessGatesCell,
  type PodStatus,
} from './pod-status.js';

export const PodSchema = topLevelSchema(
  'io.k8s.api.core.v1.Pod',
  'Pod is a collection of containers that can run on a host. This resource is created by clients and scheduled onto hosts.',
  {
    spec: PodSpecSchema,
    status: PodStatusSchema,
  },
);

export type Pod = Static<typeof PodSchema>;

/**
 * Whether the pod needs the host's kernel: privileged containers or host namespaces. Such pods
 * run on `runc`; a VM (`hyper`) cannot give them what they ask. The agent and the scheduler
 * both choose the runtime handler by it.
 */
export function podNeedsHostAccess(pod: Pod): boolean {
  const spec = pod.spec;
  if (spec?.hostNetwork || spec?.hostPID || spec?.hostIPC) return true;
  return [...(spec?.containers ?? []), ...(spec?.initContainers ?? [])].some(
    (c) => c.securityContext?.privileged === true,
  );
}

function podOf(obj: KubeObject): Pod {
  return obj as unknown as Pod;
}

/** The parts of a pod spec that may change after creation (upstream `ValidatePodUpdate`). */
const mutableSpecMessage =
  'pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)';

function validatePodSpecUpdate(causes: StatusCause[], spec: PodSpec, old: PodSpec): void {
  // Start from the new spec and put back the fields that may change, then compare with old.
  const probe = cloneJson(spec);
  for (const key of ['containers', 'initContainers'] as const) {
    const cur = probe[key] ?? [];
    const prev = old[key] ?? [];
    if (cur.length === prev.length) {
      cur.forEach((c, i) => {
        if (!c.image) causes.push(requiredCause(`spec.${key}[${i}].image`));
        const before = prev[i]?.image;
        if (before === undefined) delete c.image;
        else c.image = before;
      });
    }
  }
  if (old.activeDeadlineSeconds !== undefined) {
    if (spec.activeDeadlineSeconds === undefined) {
      causes.push(
        invalidCause(
          'spec.activeDeadlineSeconds',
          null,
          'must not update from a positive integer to nil value',
        ),
      );
    } else if (spec.activeDeadlineSeconds > old.activeDeadlineSeconds) {
      causes.push(
        invalidCause(
          'spec.activeDeadlineSeconds',
          spec.activeDeadlineSeconds,
          'must be less than or equal to previous value',
        ),
      );
    }
  }
  if (old.activeDeadlineSeconds === undefined) delete probe.activeDeadlineSeconds;
  else probe.activeDeadlineSeconds = old.activeDeadlineSeconds;
  // Tolerations: every old one must still be there (tolerationSeconds may only shrink).
  const newTolerations = spec.tolerations ?? [];
  for (const t of old.tolerations ?? []) {
    const kept = newTolerations.some(
      (n) =>
        n.key === t.key &&
        (n.operator ?? 'Equal') === (t.operator ?? 'Equal') &&
        n.value === t.value &&
        n.effect === t.effect &&
        (t.tolerationSeconds === undefined
          ? n.tolerationSeconds === undefined
          : n.tolerationSeconds !== undefined && n.tolerationSeconds <= t.tolerationSeconds),
    );
    if (!kept) {
      causes.push(
        forbiddenCause(
          'spec.tolerations',
          'existing toleration can not be modified except its tolerationSeconds',
        ),
      );
      break;
    }
  }
  if (old.tolerations === undefined) delete probe.tolerations;
  else probe.tolerations = old.tolerations;
  // Scheduling gates may only be removed.
  const oldGates = new Set((old.schedulingGates ?? []).map((g) => g.name));
  if ((spec.schedulingGates ?? []).some((g) => !oldGates.has(g.name))) {
    causes.push(
      forbiddenCause('spec.schedulingGates', 'only deletion is allowed, but found new scheduling gate'),
    );
  }
  if (old.schedulingGates === undefined) delete probe.schedulingGates;
  else probe.schedulingGates = old.schedulingGates;
  if ((old.terminationGracePeriodSeconds ?? 0) < 0 && spec.terminationGracePeriodSeconds === 1) {
    probe.terminationGracePeriodSeconds = old.terminationGracePeriodSeconds as number;
  }
  if (!deepEqual(probe, old)) causes.push(forbiddenCause('spec', mutableSpecMessage));
}

export const podKind = defineKind({
  group: '',
  version: 'v1',
  kind: 'Pod',
  plural: 'pods',
  shortNames: ['po'],
  categories: ['all'],
  namespaced: true,
  description: PodSchema.description ?? '',
  schema: PodSchema,
  hasStatusSubresource: true,
  applyDefaults(obj, ctx) {
    const pod = podOf(obj);
    const spec = (pod.spec ??= {} as PodSpec);
    applyPodSpecDefaults(spec, true);
    if (ctx.operation === 'create') {
      const status = ensureRecord(obj, 'status') as PodStatus;
      status.phase ??= 'Pending';
      status.qosClass ??= podQosClass(spec);
    }
  },
  validate(obj, old, ctx) {
    const causes: StatusCause[] = [];
    const pod = podOf(obj);
    validatePodSpec(causes, pod.spec, 'spec', { isPod: true, isCreate: ctx.operation === 'create' });
    if (old && pod.spec) {
      const prev = podOf(old).spec;
      if (prev) validatePodSpecUpdate(causes, pod.spec, prev);
    }
    return causes;
  },
  columns: [
    column('Ready', 'The aggregate readiness state of this pod for accepting traffic.'),
    column('Status', 'The aggregate status of the containers in this pod.'),
    column(
      'Restarts',
      'The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.',
    ),
    column(
      'Age',
      'CreationTimestamp is a timestamp representing the server time when this object was created.',
    ),
    column(
      'IP',
      'IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.',
      { priority: 1 },
    ),
    column('Node', 'NodeName is a request to schedule this pod onto a specific node.', { priority: 1 }),
    column(
      'Nominated Node',
      'nominatedNodeName is set when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods.',
      { priority: 1 },
    ),
    column('Readiness Gates', 'If specified, all readiness gates will be evaluated for pod readiness.', {
      priority: 1,
    }),
  ],
  cells(obj, nowMs) {
    const pod = podOf(obj);
    const s = podSummaryCells(
      {
        metadata: obj.metadata,
        ...(pod.spec ? { spec: pod.spec } : {}),
        ...(pod.status ? { status: pod.status } : {}),
      },
      nowMs,
    );
    const ip = pod.status?.podIPs?.[0]?.ip || pod.status?.podIP || '<none>';
    return [
      s.ready,
      s.status,
      s.restarts,
      ageCell(obj, nowMs),
      ip,
      pod.spec?.nodeName || '<none>',
      pod.status?.nominatedNodeName || '<none>',
      readinessGatesCell(pod.spec, pod.status),
    ];
  },
  fieldSelectors: {
    'spec.nodeName': (o) => podOf(o).spec?.nodeName ?? '',
    'spec.restartPolicy': (o) => podOf(o).spec?.restartPolicy ?? '',
    'spec.schedulerName': (o) => podOf(o).spec?.schedulerName ?? '',
    'spec.serviceAccountName': (o) => podOf(o).spec?.serviceAccountName ?? '',
    'spec.hostNetwork': (o) => String(podOf(o).spec?.hostNetwork === true),
    'status.phase': (o) => podOf(o).status?.phase ?? '',
    'status.podIP': (o) => podOf(o).status?.podIP ?? '',
    'status.nominatedNodeName': (o) => podOf(o).status?.nominatedNodeName ?? '',
  },
});
