/**
 * The pod's status as the agent reports it (kubelet's `generateAPIPodStatus` and `getPhase`):
 * phase, conditions, container statuses, addresses, QoS class. Pure: computed from the spec,
 * what the runtime holds, and the worker's facts (probe results, the last error of each
 * container, back-off); the status writer sends it only when it changed.
 */
import {
  podQosClass,
  type Container,
  type ContainerStatus,
  type Pod,
  type PodCondition,
  type PodStatus,
} from '../../api/index.js';
import { restartPolicyOf, type PodActions } from './pod-actions.js';
import {
  latestContainer,
  previousContainer,
  type ContainerKind,
  type ContainerView,
  type PodRuntimeView,
} from './runtime-view.js';

/** Why a container that is not running waits (ErrImagePull, CreateContainerConfigError, ...). */
export interface WaitingReason {
  readonly reason: string;
  readonly message: string;
}

export interface StatusFacts {
  readonly nowMs: number;
  /** Handler of the pod's sandbox, the `<type>` of `containerID` (`hyper://…`). */
  readonly runtimeType: string;
  readonly podIPs: readonly string[];
  readonly hostIPs: readonly string[];
  /** Whether a readiness probe passes for a running container (true when it has none). */
  isReady(c: ContainerView, spec: Container): boolean;
  /** Whether the startup probe passed (true when it has none). */
  isStarted(c: ContainerView, spec: Container): boolean;
  /** The last error that keeps a container from running, if any. */
  waitingReason(name: string, kind: ContainerKind): WaitingReason | undefined;
  /** The pod has failed for good (init failure with restartPolicy Never, admission refusal). */
  readonly podFailure?: { readonly reason: string; readonly message: string } | undefined;
}

function rfc3339(ns: number): string | undefined {
  if (!ns) return undefined;
  return new Date(Math.floor(ns / 1e6)).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

type ContainerState = NonNullable<ContainerStatus['state']>;

function terminatedState(c: ContainerView, runtimeType: string): ContainerState {
  if (c.state.phase !== 'exited') return {};
  const s = c.state;
  const reason = s.reason || (s.exitCode === 0 ? 'Completed' : 'Error');
  const startedAt = rfc3339(s.startedAtNs);
  const finishedAt = rfc3339(s.finishedAtNs);
  return {
    terminated: {
      exitCode: s.exitCode,
      reason,
      ...(s.message ? { message: s.message } : {}),
      ...(startedAt ? { startedAt } : {}),
      ...(finishedAt ? { finishedAt } : {}),
      containerID: `${runtimeType}://${c.id}`,
    },
  };
}

function containerStatus(
  pod: Pod,
  spec: Container,
  kind: ContainerKind,
  view: PodRuntimeView,
  actions: PodActions,
  facts: StatusFacts,
): ContainerStatus {
  const name = spec.name ?? '';
  const latest = latestContainer(view, name, kind);
  const previous = previousContainer(view, name, kind);
  const base: ContainerStatus = {
    name,
    image: spec.image ?? '',
    imageID: latest?.imageRef ?? '',
    restartCount: latest ? latest.attempt : 0,
    ready: false,
    started: false,
  };
  const backoff = actions.backingOff.find((b) => b.name === name && b.kind === kind);
  const waiting = facts.waitingReason(name, kind);
  const lastState: ContainerState = previous ? terminatedState(previous, facts.runtimeType) : {};

  if (latest && latest.state.phase === 'running' && !waiting) {
    const started = facts.isStarted(latest, spec);
    return {
      ...base,
      containerID: `${facts.runtimeType}://${latest.id}`,
      state: {
        running: { startedAt: rfc3339(latest.state.startedAtNs) ?? new Date(facts.nowMs).toISOString() },
      },
      lastState,
      started,
      ready: started && facts.isReady(latest, spec),
    };
  }
  if (latest && latest.state.phase === 'exited') {
    const term = terminatedState(latest, facts.runtimeType);
    if (backoff) {
      const podId = `${pod.metadata?.name ?? ''}_${pod.metadata?.namespace ?? ''}(${pod.metadata?.uid ?? ''})`;
      return {
        ...base,
        containerID: `${facts.runtimeType}://${latest.id}`,
        state: {
          waiting: {
            reason: 'CrashLoopBackOff',
            message: `back-off ${formatBackoff(backoff.retryInMs)} restarting failed container=${name} pod=${podId}`,
          },
        },
        lastState: term,
      };
    }
    if (waiting) {
      return { ...base, state: { waiting }, lastState: term };
    }
    // Exited for good, or about to be restarted on this pass.
    return { ...base, containerID: `${facts.runtimeType}://${latest.id}`, state: term, lastState };
  }
  const reason =
    waiting ??
    (kind === 'app' && !actions.isInitialized && (pod.spec?.initContainers?.length ?? 0) > 0
      ? { reason: 'PodInitializing', message: '' }
      : { reason: 'ContainerCreating', message: '' });
  return {
    ...base,
    state: { waiting: reason.message ? reason : { reason: reason.reason } },
    lastState,
  };
}

/** `10s`, `1m20s`, `5m0s`: Go's duration format as kubelet prints the back-off. */
function formatBackoff(ms: number): string {
  const s = Math.max(1, Math.ceil(ms / 1000));
  if (s < 60) return `${s}s`;
  return `${Math.floor(s / 60)}m${s % 60}s`;
}

/** Upstream `getPhase` over the app containers' statuses. */
export function podPhase(
  pod: Pod,
  statuses: readonly ContainerStatus[],
  actions: PodActions,
  failed: boolean,
): string {
  if (failed) return 'Failed';
  const hasInit = (pod.spec?.initContainers ?? []).some((c) => c.restartPolicy !== 'Always');
  if (hasInit && !actions.isInitialized) return 'Pending';
  let running = 0;
  let waiting = 0;
  let stopped = 0;
  let succeeded = 0;
  for (const s of statuses) {
    if (s.state?.running) running++;
    else if (s.state?.terminated) {
      stopped++;
      if (s.state.terminated.exitCode === 0) succeeded++;
    } else if (s.state?.waiting) {
      if (s.lastState?.terminated) stopped++;
      else waiting++;
    } else waiting++;
  }
  if (waiting > 0) return 'Pending';
  if (running > 0) return 'Running';
  if (stopped > 0) {
    const policy = restartPolicyOf(pod);
    if (policy === 'Always') return 'Running';
    if (stopped === succeeded) return 'Succeeded';
    if (policy === 'Never') return 'Failed';
    return 'Running';
  }
  return 'Pending';
}

function condition(
  old: readonly PodCondition[],
  type: string,
  isTrue: boolean,
  nowIso: string,
  reason?: string,
  message?: string,
): PodCondition {
  const status = isTrue ? 'True' : 'False';
  const prev = old.find((c) => c.type === type);
  const lastTransitionTime =
    prev && prev.status === status && prev.lastTransitionTime ? prev.lastTransitionTime : nowIso;
  return {
    type,
    status,
    lastTransitionTime,
    ...(!isTrue && reason ? { reason } : {}),
    ...(!isTrue && message ? { message } : {}),
  };
}

/** The status to report for `pod`. */
export function computePodStatus(
  pod: Pod,
  view: PodRuntimeView,
  actions: PodActions,
  facts: StatusFacts,
): PodStatus {
  const old = pod.status ?? {};
  const oldConditions = old.conditions ?? [];
  const nowIso = new Date(facts.nowMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const initStatuses = (pod.spec?.initContainers ?? []).map((c) =>
    containerStatus(pod, c, 'init', view, actions, facts),
  );
  const appStatuses = (pod.spec?.containers ?? []).map((c) =>
    containerStatus(pod, c, 'app', view, actions, facts),
  );
  const failure = facts.podFailure ?? actions.podFailed;
  const phase = podPhase(pod, appStatuses, actions, failure !== undefined);
  const isTerminal = phase === 'Succeeded' || phase === 'Failed';

  const hasSandbox = view.sandboxes.some((s) => s.phase === 'ready');
  const initDone =
    actions.isInitialized || (pod.spec?.initContainers?.length ?? 0) === 0 || phase === 'Succeeded';
  const pendingInit = initStatuses
    .filter((s) => !(s.state?.terminated?.exitCode === 0) && !s.started)
    .map((s) => s.name);
  const unready = appStatuses.filter((s) => !s.ready).map((s) => s.name);
  const containersReady = unready.length === 0 && !isTerminal;
  const gates = (pod.spec?.readinessGates ?? []).map((g) => g.conditionType ?? '');
  const gatesOk = gates.every((g) => oldConditions.some((c) => c.type === g && c.status === 'True'));

  const conditions: PodCondition[] = [
    condition(oldConditions, 'PodReadyToStartContainers', hasSandbox, nowIso),
    condition(
      oldConditions,
      'Initialized',
      initDone,
      nowIso,
      'ContainersNotInitialized',
      `containers with incomplete status: [${pendingInit.join(' ')}]`,
    ),
    condition(
      oldConditions,
      'Ready',
      containersReady && gatesOk,
      nowIso,
      isTerminal ? 'PodCompleted' : containersReady ? 'ReadinessGatesNotReady' : 'ContainersNotReady',
      isTerminal
        ? ''
        : containersReady
          ? 'corresponding condition of pod readiness gate is not true'
          : `containers with unready status: [${unready.join(' ')}]`,
    ),
    condition(
      oldConditions,
      'ContainersReady',
      containersReady,
      nowIso,
      isTerminal ? 'PodCompleted' : 'ContainersNotReady',
      isTerminal ? '' : `containers with unready status: [${unready.join(' ')}]`,
    ),
  ];
  // Conditions the agent does not own (PodScheduled, readiness gates, DisruptionTarget) stay.
  const own = new Set(conditions.map((c) => c.type));
  for (const c of oldConditions) if (!own.has(c.type)) conditions.push(c);

  const status: PodStatus = {
    ...old,
    phase,
    conditions,
    hostIP: facts.hostIPs[0] ?? old.hostIP ?? '',
    hostIPs: facts.hostIPs.map((ip) => ({ ip })),
    ...(facts.podIPs.length > 0
      ? { podIP: facts.podIPs[0] ?? '', podIPs: facts.podIPs.map((ip) => ({ ip })) }
      : {}),
    startTime: old.startTime ?? nowIso,
    qosClass: podQosClass(pod.spec),
    containerStatuses: appStatuses,
    ...(initStatuses.length > 0 ? { initContainerStatuses: initStatuses } : {}),
  };
  if (failure) {
    status.reason = failure.reason;
    status.message = failure.message;
  }
  return status;
}
