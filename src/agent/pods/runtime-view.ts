/**
 * What the runtime holds for one pod, read back from its labels (the agent keeps no state of
 * its own that the runtime does not have: after a restart it rebuilds everything from here and
 * the API, DESIGN.md "Agent").
 */

/** Labels the agent puts on every sandbox and container it creates (kubelet's names). */
export const podUidLabel = 'io.kubernetes.pod.uid';
export const podNameLabel = 'io.kubernetes.pod.name';
export const podNamespaceLabel = 'io.kubernetes.pod.namespace';
export const containerNameLabel = 'io.kubernetes.container.name';
/** Annotation with the hash of the container's spec: a changed spec restarts the container. */
export const containerHashAnnotation = 'h8s.io/container-hash';
/** Annotation telling init containers from app containers in the runtime. */
export const containerKindAnnotation = 'h8s.io/container-kind';

export type ContainerKind = 'init' | 'app';

export type SandboxPhase = 'ready' | 'notReady';

export interface SandboxView {
  readonly id: string;
  readonly attempt: number;
  readonly phase: SandboxPhase;
  /** ns since epoch */
  readonly createdAt: number;
  readonly handler: string;
}

export type ContainerPhase =
  | { readonly phase: 'created' }
  | { readonly phase: 'running'; readonly startedAtNs: number }
  | {
      readonly phase: 'exited';
      readonly exitCode: number;
      readonly reason: string;
      readonly message: string;
      readonly startedAtNs: number;
      readonly finishedAtNs: number;
    }
  | { readonly phase: 'unknown' };

export interface ContainerView {
  readonly id: string;
  readonly sandboxId: string;
  readonly name: string;
  readonly kind: ContainerKind;
  readonly attempt: number;
  readonly hash: string;
  readonly image: string;
  readonly imageRef: string;
  readonly createdAtNs: number;
  readonly state: ContainerPhase;
}

export interface PodRuntimeView {
  /** Newest first. */
  readonly sandboxes: readonly SandboxView[];
  /** Every container of the pod in any of its sandboxes, newest attempt first per name. */
  readonly containers: readonly ContainerView[];
}

export const emptyRuntimeView: PodRuntimeView = { sandboxes: [], containers: [] };

/** The newest container of `name` and `kind` (in any sandbox), if any. */
export function latestContainer(
  view: PodRuntimeView,
  name: string,
  kind: ContainerKind,
): ContainerView | undefined {
  let best: ContainerView | undefined;
  for (const c of view.containers) {
    if (c.name !== name || c.kind !== kind) continue;
    if (!best || c.attempt > best.attempt || (c.attempt === best.attempt && c.createdAtNs > best.createdAtNs))
      best = c;
  }
  return best;
}

/** The container before the newest one of `name` (for `lastState` and `logs --previous`). */
export function previousContainer(
  view: PodRuntimeView,
  name: string,
  kind: ContainerKind,
): ContainerView | undefined {
  const latest = latestContainer(view, name, kind);
  if (!latest) return undefined;
  let best: ContainerView | undefined;
  for (const c of view.containers) {
    if (c.name !== name || c.kind !== kind || c.id === latest.id) continue;
    if (!best || c.attempt > best.attempt) best = c;
  }
  return best;
}
