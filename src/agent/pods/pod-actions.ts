/**
 * What the pod worker should do next for one pod, computed from the pod's spec and what the
 * runtime holds (kubelet's `computePodActions`). Pure: the worker executes the actions, then
 * computes again; nothing here remembers anything between calls, so a restarted agent makes
 * the same decisions from the same runtime state.
 *
 * Rules, as upstream:
 * - No ready sandbox: kill what is left and create a new one, unless the pod has finished for
 *   good (restartPolicy Never, or OnFailure with every container succeeded) or was already
 *   failed by an init container.
 * - Init containers run one at a time in order; each must exit 0 before the next starts. A
 *   failed one restarts (with back-off) unless the pod's restartPolicy is Never, which fails
 *   the pod. Restartable init containers (sidecars: `restartPolicy: Always`) start in order
 *   too, count as done once started, and are restarted whenever they exit.
 * - App containers start once every init container is done. An exited one restarts by the
 *   pod's restartPolicy (Always; OnFailure when the exit code is not 0; Never not), after its
 *   back-off; a liveness failure or a changed spec kills it first.
 */
import type { Container, Pod } from '../../api/index.js';
import {
  latestContainer,
  type ContainerKind,
  type ContainerView,
  type PodRuntimeView,
} from './runtime-view.js';

export type RestartPolicy = 'Always' | 'OnFailure' | 'Never';

export interface ContainerRef {
  readonly name: string;
  readonly kind: ContainerKind;
}

export interface KillAction {
  readonly id: string;
  readonly name: string;
  readonly kind: ContainerKind;
  /** Event reason and message: `Killing` "Container x failed liveness probe, will be restarted". */
  readonly message: string;
}

export interface PodActions {
  /** Stop every container and sandbox of the pod first (the sandbox is gone or not ready). */
  readonly killPod: boolean;
  /** Create a new sandbox with this attempt number. */
  readonly createSandbox: { readonly attempt: number } | undefined;
  /** The ready sandbox the containers run in (undefined while one must be created). */
  readonly sandboxId: string | undefined;
  /** Containers to create and start now, in order. */
  readonly start: readonly ContainerRef[];
  /** Containers to kill (and then restart on a later pass). */
  readonly kill: readonly KillAction[];
  /** Containers that must be restarted but are still in back-off: the worker reports CrashLoopBackOff. */
  readonly backingOff: readonly (ContainerRef & { readonly retryInMs: number })[];
  /** The pod has failed for good (an init container failed with restartPolicy Never). */
  readonly podFailed: { readonly reason: string; readonly message: string } | undefined;
  /** Every init container has completed (or, for a sidecar, started). */
  readonly isInitialized: boolean;
}

/** Facts the worker knows beyond the runtime: probe results and back-off timers. */
export interface WorkerFacts {
  /** Whether the container's liveness (or startup) probe has failed past its threshold. */
  isLivenessFailed(c: ContainerView, spec: Container): boolean;
  /** Container ids whose startup probe has succeeded (or that have none). */
  isStarted(c: ContainerView, spec: Container): boolean;
  /** Milliseconds until `ref` may be restarted (0 = now). */
  restartDelayMs(ref: ContainerRef, latest: ContainerView): number;
  /** The hash the container would be created with now. */
  hashOf(spec: Container, kind: ContainerKind): string;
}

export function restartPolicyOf(pod: Pod): RestartPolicy {
  const p = pod.spec?.restartPolicy;
  return p === 'OnFailure' || p === 'Never' ? p : 'Always';
}

function isSidecar(c: Container): boolean {
  return c.restartPolicy === 'Always';
}

function exitCodeOf(c: ContainerView): number | undefined {
  return c.state.phase === 'exited' ? c.state.exitCode : undefined;
}

/** Whether the pod's app containers have all finished so that none will run again. */
export function isPodFinished(pod: Pod, view: PodRuntimeView): boolean {
  const policy = restartPolicyOf(pod);
  if (policy === 'Always') return false;
  const containers = pod.spec?.containers ?? [];
  if (containers.length === 0) return false;
  return containers.every((spec) => {
    const latest = latestContainer(view, spec.name ?? '', 'app');
    const code = latest ? exitCodeOf(latest) : undefined;
    if (code === undefined) return false;
    return policy === 'Never' || code === 0;
  });
}

const idle: PodActions = {
  killPod: false,
  createSandbox: undefined,
  sandboxId: undefined,
  start: [],
  kill: [],
  backingOff: [],
  podFailed: undefined,
  isInitialized: false,
};

export function computePodActions(pod: Pod, view: PodRuntimeView, facts: WorkerFacts): PodActions {
  const policy = restartPolicyOf(pod);
  const initSpecs = pod.spec?.initContainers ?? [];
  const appSpecs = pod.spec?.containers ?? [];
  const ready = view.sandboxes.find((s) => s.phase === 'ready');
  const newest = view.sandboxes[0];

  const initFailure = findFailedInit(pod, view);
  if (initFailure && policy === 'Never') {
    return { ...idle, killPod: ready !== undefined, podFailed: initFailure };
  }

  const hasReadySandbox = ready !== undefined;
  if (isPodFinished(pod, view)) {
    // Terminal: release the sandbox (a VM's memory), keep the exited containers for logs.
    return { ...idle, killPod: hasReadySandbox, isInitialized: true };
  }
  if (!ready || (newest && newest.id !== ready.id)) {
    return {
      ...idle,
      killPod: hasReadySandbox,
      createSandbox: { attempt: newest ? newest.attempt + 1 : 0 },
    };
  }

  // Only containers of the current sandbox count from here on: a new sandbox restarts
  // everything (upstream: a sandbox change kills and recreates all containers).
  const current: PodRuntimeView = {
    sandboxes: view.sandboxes,
    containers: view.containers.filter((c) => c.sandboxId === ready.id),
  };
  const start: ContainerRef[] = [];
  const kill: KillAction[] = [];
  const backingOff: (ContainerRef & { retryInMs: number })[] = [];

  const consider = (
    spec: Container,
    kind: ContainerKind,
    restart: (c: ContainerView) => boolean,
  ): 'waiting' | 'running' | 'done' => {
    const name = spec.name ?? '';
    const latest = latestContainer(current, name, kind);
    if (!latest) {
      start.push({ name, kind });
      return 'waiting';
    }
    if (latest.state.phase === 'running' || latest.state.phase === 'created') {
      if (latest.state.phase === 'running' && facts.isLivenessFailed(latest, spec)) {
        kill.push({
          id: latest.id,
          name,
          kind,
          message: `Container ${name} failed liveness probe, will be restarted`,
        });
        return 'waiting';
      }
      if (latest.hash !== facts.hashOf(spec, kind)) {
        kill.push({
          id: latest.id,
          name,
          kind,
          message: `Container ${name} definition changed, will be restarted`,
        });
        return 'waiting';
      }
      return 'running';
    }
    if (latest.state.phase === 'unknown') {
      kill.push({
        id: latest.id,
        name,
        kind,
        message: `Container ${name} is in an unknown state, will be restarted`,
      });
      return 'waiting';
    }
    // exited
    if (!restart(latest)) return 'done';
    const delay = facts.restartDelayMs({ name, kind }, latest);
    if (delay > 0) backingOff.push({ name, kind, retryInMs: delay });
    else start.push({ name, kind });
    return 'waiting';
  };

  // Init containers, in order.
  let isInitialized = true;
  for (const spec of initSpecs) {
    if (isSidecar(spec)) {
      const state = consider(spec, 'init', () => true);
      const latest = latestContainer(current, spec.name ?? '', 'init');
      const started =
        state === 'running' &&
        latest !== undefined &&
        latest.state.phase === 'running' &&
        facts.isStarted(latest, spec);
      if (!started) {
        isInitialized = false;
        break;
      }
      continue;
    }
    const latest = latestContainer(current, spec.name ?? '', 'init');
    if (latest && exitCodeOf(latest) === 0) continue;
    // Once the pod is initialized (an app container exists in this sandbox), a removed or
    // failed init container is not re-run (upstream: init containers run once per sandbox).
    if (appSpecs.some((a) => latestContainer(current, a.name ?? '', 'app'))) continue;
    consider(spec, 'init', (c) => exitCodeOf(c) !== 0);
    isInitialized = false;
    break;
  }

  if (isInitialized) {
    for (const spec of appSpecs) {
      consider(spec, 'app', (c) => policy === 'Always' || (policy === 'OnFailure' && exitCodeOf(c) !== 0));
    }
  }

  return {
    killPod: false,
    createSandbox: undefined,
    sandboxId: ready.id,
    start,
    kill,
    backingOff,
    podFailed: undefined,
    isInitialized,
  };
}

/** The first init container that exited non-zero (and is not a sidecar), as a pod failure. */
function findFailedInit(pod: Pod, view: PodRuntimeView): { reason: string; message: string } | undefined {
  for (const spec of pod.spec?.initContainers ?? []) {
    if (isSidecar(spec)) continue;
    const latest = latestContainer(view, spec.name ?? '', 'init');
    const code = latest ? exitCodeOf(latest) : undefined;
    if (code !== undefined && code !== 0) {
      return { reason: 'Failed', message: `Init container "${spec.name ?? ''}" exited with code ${code}` };
    }
    if (code !== 0) return undefined;
  }
  return undefined;
}
