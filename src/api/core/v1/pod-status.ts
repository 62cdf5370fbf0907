/**
 * PodStatus: schema, the QoS class computation, and the STATUS/READY/RESTARTS cells exactly
 * as `kubectl get pods` computes them (kubernetes `printers.printPod`).
 */
import type { Static } from '@sinclair/typebox';
import { findQuantity } from '../../resource/quantity.js';
import { int64, list, mapOf, object, quantity, str, time } from '../../schema/fields.js';
import { formatAge } from '../../table/format-age.js';
import type { Container } from './container.js';
import { ContainerStatusSchema, type ContainerStatus } from './container-status.js';
import type { PodSpec } from './pod-spec.js';

export const PodConditionSchema = object(
  'io.k8s.api.core.v1.PodCondition',
  'PodCondition contains details for the current condition of this pod.',
  {
    type: str('Type is the type of the condition: PodScheduled, Initialized, ContainersReady, Ready, ...'),
    observedGeneration: int64(
      'If set, this represents the .metadata.generation that the pod condition was set based upon.',
    ),
    status: str('Status is the status of the condition. Can be True, False, Unknown.'),
    lastProbeTime: time('Last time we probed the condition.'),
    lastTransitionTime: time('Last time the condition transitioned from one status to another.'),
    reason: str("Unique, one-word, CamelCase reason for the condition's last transition."),
    message: str('Human-readable message indicating details about last transition.'),
  },
  { required: ['type', 'status'] },
);

const ipList = (name: string, what: string) =>
  list(
    object(
      name,
      `${what} represents a single IP address allocated.`,
      { ip: str('IP is the IP address assigned.') },
      { required: ['ip'] },
    ),
    `${what}s holds the IP addresses allocated.`,
    { mergeKey: 'ip', listType: 'map', mapKeys: ['ip'] },
  );

export const PodStatusSchema = object(
  'io.k8s.api.core.v1.PodStatus',
  'PodStatus represents information about the status of a pod. Status may trail the actual state of a system, especially if the node that hosts the pod cannot contact the control plane.',
  {
    observedGeneration: int64(
      'If set, this represents the .metadata.generation that the pod status was set based upon.',
    ),
    phase: str(
      'The phase of a Pod is a simple, high-level summary of where the Pod is in its lifecycle: Pending, Running, Succeeded, Failed, Unknown.',
    ),
    conditions: list(PodConditionSchema, 'Current service state of pod.', {
      mergeKey: 'type',
      listType: 'map',
      mapKeys: ['type'],
    }),
    message: str('A human readable message indicating details about why the pod is in this condition.'),
    reason: str(
      "A brief CamelCase message indicating details about why the pod is in this state. e.g. 'Evicted'",
    ),
    nominatedNodeName: str(
      'nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods.',
    ),
    hostIP: str(
      'hostIP holds the IP address of the host to which the pod is assigned. Empty if the pod has not started yet.',
    ),
    hostIPs: ipList('io.k8s.api.core.v1.HostIP', 'HostIP'),
    podIP: str(
      'podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.',
    ),
    podIPs: ipList('io.k8s.api.core.v1.PodIP', 'PodIP'),
    startTime: time('RFC 3339 date and time at which the object was acknowledged by the Kubelet.'),
    initContainerStatuses: list(ContainerStatusSchema, 'Statuses of init containers in this pod.', {
      listType: 'atomic',
    }),
    containerStatuses: list(ContainerStatusSchema, 'Statuses of containers in this pod.', {
      listType: 'atomic',
    }),
    qosClass: str(
      'The Quality of Service (QOS) classification assigned to the pod based on resource requirements: Guaranteed, Burstable, BestEffort.',
    ),
    ephemeralContainerStatuses: list(
      ContainerStatusSchema,
      'Statuses for any ephemeral containers that have run in this pod.',
      { listType: 'atomic' },
    ),
    resize: str("Status of resources resize desired for pod's containers."),
    resourceClaimStatuses: list(
      object(
        'io.k8s.api.core.v1.PodResourceClaimStatus',
        'PodResourceClaimStatus is stored in the PodStatus for each PodResourceClaim which references a ResourceClaimTemplate.',
        {
          name: str('Name uniquely identifies this resource claim inside the pod.'),
          resourceClaimName: str(
            'ResourceClaimName is the name of the ResourceClaim that was generated for the Pod in the namespace of the Pod.',
          ),
        },
        { required: ['name'] },
      ),
      'Status of resource claims.',
      { mergeKey: 'name', strategy: 'merge,retainKeys', listType: 'map', mapKeys: ['name'] },
    ),
    allocatedResources: mapOf(quantity('A quantity of a resource.'), 'Resources allocated to the pod.'),
  },
);

export type PodStatus = Static<typeof PodStatusSchema>;
export type PodCondition = Static<typeof PodConditionSchema>;

/** Upstream `GetPodQOS`: Guaranteed, Burstable or BestEffort from requests and limits. */
export function podQosClass(spec: PodSpec | undefined): 'Guaranteed' | 'Burstable' | 'BestEffort' {
  const containers: Container[] = [...(spec?.containers ?? []), ...(spec?.initContainers ?? [])];
  const computeResources = ['cpu', 'memory'];
  let anyRequest = false;
  let anyLimit = false;
  let guaranteed = true;
  for (const c of containers) {
    const req = c.resources?.requests ?? {};
    const lim = c.resources?.limits ?? {};
    for (const r of computeResources) {
      const rq = req[r] === undefined ? undefined : findQuantity(req[r]);
      const lq = lim[r] === undefined ? undefined : findQuantity(lim[r]);
      if (rq !== undefined && rq !== 0) anyRequest = true;
      if (lq !== undefined && lq !== 0) anyLimit = true;
      if (lq === undefined || lq === 0) guaranteed = false;
      else if (rq !== undefined && rq !== lq) guaranteed = false;
    }
  }
  if (!anyRequest && !anyLimit) return 'BestEffort';
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

function isRestartableInit(c: Container | undefined): boolean {
  return c?.restartPolicy === 'Always';
}

function laterOf(a: number, t: string | undefined): number {
  if (!t) return a;
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? a : Math.max(a, ms);
}

/** The READY, STATUS and RESTARTS cells of `kubectl get pods` (upstream `printPod`). */
export interface PodSummaryCells {
  readonly ready: string;
  readonly status: string;
  readonly restarts: string;
}

interface PodLike {
  readonly metadata: { readonly deletionTimestamp?: string };
  readonly spec?: PodSpec;
  readonly status?: PodStatus;
}

/**
 * Computes the pod's READY (`1/2`), STATUS (`Running`, `ContainerCreating`, `CrashLoopBackOff`,
 * `Completed`, `Init:0/1`, `Terminating`, ...) and RESTARTS (`3 (5m ago)`) cells.
 */
export function podSummaryCells(pod: PodLike, nowMs: number): PodSummaryCells {
  const spec = pod.spec;
  const status = pod.status ?? {};
  let restarts = 0;
  let restartableInitRestarts = 0;
  let totalContainers = spec?.containers?.length ?? 0;
  let readyContainers = 0;
  let lastRestartMs = 0;
  let lastRestartableInitRestartMs = 0;
  const phase = status.phase ?? '';
  let reason = status.reason ? status.reason : phase;
  for (const c of status.conditions ?? []) {
    if (c.type === 'PodScheduled' && c.reason === 'SchedulingGated') reason = 'SchedulingGated';
  }
  const initByName = new Map<string, Container>();
  for (const c of spec?.initContainers ?? []) {
    if (c.name) initByName.set(c.name, c);
    if (isRestartableInit(c)) totalContainers++;
  }
  let initializing = false;
  const initStatuses: ContainerStatus[] = status.initContainerStatuses ?? [];
  for (let i = 0; i < initStatuses.length; i++) {
    const cs = initStatuses[i] as ContainerStatus;
    restarts += cs.restartCount ?? 0;
    lastRestartMs = laterOf(lastRestartMs, cs.lastState?.terminated?.finishedAt);
    const spec = cs.name === undefined ? undefined : initByName.get(cs.name);
    if (isRestartableInit(spec)) {
      restartableInitRestarts += cs.restartCount ?? 0;
      lastRestartableInitRestartMs = laterOf(
        lastRestartableInitRestartMs,
        cs.lastState?.terminated?.finishedAt,
      );
    }
    const term = cs.state?.terminated;
    const waiting = cs.state?.waiting;
    if (term && term.exitCode === 0) continue;
    if (isRestartableInit(spec) && cs.started === true) {
      if (cs.ready) readyContainers++;
      continue;
    }
    if (term) {
      if (!term.reason)
        reason = term.signal ? `Init:Signal:${term.signal}` : `Init:ExitCode:${term.exitCode ?? 0}`;
      else reason = `Init:${term.reason}`;
      initializing = true;
    } else if (waiting && waiting.reason && waiting.reason !== 'PodInitializing') {
      reason = `Init:${waiting.reason}`;
      initializing = true;
    } else {
      reason = `Init:${i}/${pod.spec?.initContainers?.length ?? 0}`;
      initializing = true;
    }
    break;
  }
  const initializedTrue = (status.conditions ?? []).some(
    (c) => c.type === 'Initialized' && c.status === 'True',
  );
  if (!initializing || initializedTrue) {
    restarts = restartableInitRestarts;
    lastRestartMs = lastRestartableInitRestartMs;
    let hasRunning = false;
    const statuses = status.containerStatuses ?? [];
    for (let i = statuses.length - 1; i >= 0; i--) {
      const cs = statuses[i] as ContainerStatus;
      restarts += cs.restartCount ?? 0;
      lastRestartMs = laterOf(lastRestartMs, cs.lastState?.terminated?.finishedAt);
      const waiting = cs.state?.waiting;
      const term = cs.state?.terminated;
      if (waiting && waiting.reason) reason = waiting.reason;
      else if (term && term.reason) reason = term.reason;
      else if (term) reason = term.signal ? `Signal:${term.signal}` : `ExitCode:${term.exitCode ?? 0}`;
      else if (cs.ready && cs.state?.running) {
        hasRunning = true;
        readyContainers++;
      }
    }
    if (reason === 'Completed' && hasRunning) {
      const ready = (status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
      reason = ready ? 'Running' : 'NotReady';
    }
  }
  if (pod.metadata.deletionTimestamp && status.reason === 'NodeLost') reason = 'Unknown';
  else if (pod.metadata.deletionTimestamp && phase !== 'Succeeded' && phase !== 'Failed')
    reason = 'Terminating';
  let restartsText = String(restarts);
  if (restarts !== 0 && lastRestartMs !== 0)
    restartsText = `${restarts} (${formatAge(nowMs - lastRestartMs)} ago)`;
  return { ready: `${readyContainers}/${totalContainers}`, status: reason, restarts: restartsText };
}

/** The READINESS GATES cell (`<none>` or `1/2`). */
export function readinessGatesCell(spec: PodSpec | undefined, status: PodStatus | undefined): string {
  const gates = spec?.readinessGates ?? [];
  if (gates.length === 0) return '<none>';
  let trueCount = 0;
  for (const g of gates) {
    const cond = (status?.conditions ?? []).find((c) => c.type === g.conditionType);
    if (cond?.status === 'True') trueCount++;
  }
  return `${trueCount}/${gates.length}`;
}
