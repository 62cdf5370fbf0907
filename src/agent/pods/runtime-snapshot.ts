/**
 * The node's pods as the runtime holds them, read in one pass (kubelet's PLEG relist): every
 * sandbox and container the agent created (by their labels), grouped by pod UID. Exited
 * containers never change again, so their status is read once and kept.
 */
import type { ContainerStatus, RuntimeService } from '../../runtime/index.js';
import {
  containerHashAnnotation,
  containerKindAnnotation,
  containerNameLabel,
  podUidLabel,
  type ContainerPhase,
  type ContainerView,
  type PodRuntimeView,
  type SandboxView,
} from './runtime-view.js';

export class RuntimeSnapshotReader {
  readonly #runtime: RuntimeService;
  /**
   * Container views by id, with the state the list showed when each was read: while the
   * listed state is the same, so is the view (a running container's start time, an exited
   * one's exit), so a relist costs one status call per container that changed.
   */
  readonly #cache = new Map<string, { listedState: string; view: ContainerView }>();

  constructor(runtime: RuntimeService) {
    this.#runtime = runtime;
  }

  /** Reads every pod. Containers of unknown sandboxes are ignored. */
  async read(): Promise<Map<string, PodRuntimeView>> {
    return this.#read(undefined);
  }

  /** Reads one pod. */
  async readPod(uid: string): Promise<PodRuntimeView> {
    return (await this.#read(uid)).get(uid) ?? { sandboxes: [], containers: [] };
  }

  async #read(uid: string | undefined): Promise<Map<string, PodRuntimeView>> {
    const selector = uid === undefined ? {} : { labelSelector: { [podUidLabel]: uid } };
    const [sandboxes, containers] = await Promise.all([
      this.#runtime.listPodSandbox(selector),
      this.#runtime.listContainers(selector),
    ]);
    const byUid = new Map<string, { sandboxes: SandboxView[]; containers: ContainerView[] }>();
    const uidOfSandbox = new Map<string, string>();
    for (const s of sandboxes) {
      const uid = s.labels[podUidLabel];
      if (!uid) continue;
      uidOfSandbox.set(s.id, uid);
      let e = byUid.get(uid);
      if (!e) byUid.set(uid, (e = { sandboxes: [], containers: [] }));
      e.sandboxes.push({
        id: s.id,
        attempt: s.metadata.attempt,
        phase: s.state === 'SANDBOX_READY' ? 'ready' : 'notReady',
        createdAt: s.createdAt,
        handler: s.runtimeHandler,
      });
    }
    const live = new Set<string>();
    await Promise.all(
      containers.map(async (c) => {
        const uid = uidOfSandbox.get(c.podSandboxId) ?? c.labels[podUidLabel];
        if (!uid || !c.labels[containerNameLabel]) return;
        live.add(c.id);
        const view = await this.#containerView(c.id, c.state);
        if (view) byUid.get(uid)?.containers.push(view);
      }),
    );
    if (uid === undefined) for (const id of this.#cache.keys()) if (!live.has(id)) this.#cache.delete(id);
    const out = new Map<string, PodRuntimeView>();
    for (const [uid, e] of byUid) {
      e.sandboxes.sort((a, b) => b.attempt - a.attempt || b.createdAt - a.createdAt);
      e.containers.sort((a, b) => b.attempt - a.attempt || b.createdAtNs - a.createdAtNs);
      out.set(uid, e);
    }
    return out;
  }

  async #containerView(id: string, listedState: string): Promise<ContainerView | undefined> {
    const known = this.#cache.get(id);
    if (known && known.listedState === listedState) return known.view;
    let status: ContainerStatus;
    try {
      status = await this.#runtime.containerStatus(id);
    } catch {
      // Removed between the list and the status call: it is gone, which the next read shows.
      return undefined;
    }
    const view = toContainerView(status);
    this.#cache.set(id, { listedState, view });
    return view;
  }
}

export function toContainerView(s: ContainerStatus): ContainerView {
  let state: ContainerPhase;
  switch (s.state) {
    case 'CONTAINER_CREATED':
      state = { phase: 'created' };
      break;
    case 'CONTAINER_RUNNING':
      state = { phase: 'running', startedAtNs: s.startedAt };
      break;
    case 'CONTAINER_EXITED':
      state = {
        phase: 'exited',
        exitCode: s.exitCode,
        reason: s.reason,
        // as kubelet: what the container wrote to its terminationMessagePath is the message
        message: s.terminationMessage || s.message,
        startedAtNs: s.startedAt,
        finishedAtNs: s.finishedAt,
      };
      break;
    default:
      state = { phase: 'unknown' };
  }
  return {
    id: s.id,
    sandboxId: s.podSandboxId,
    name: s.labels[containerNameLabel] ?? s.metadata.name,
    kind: s.annotations[containerKindAnnotation] === 'init' ? 'init' : 'app',
    attempt: s.metadata.attempt,
    hash: s.annotations[containerHashAnnotation] ?? '',
    image: s.image,
    imageRef: s.imageRef,
    createdAtNs: s.createdAt,
    state,
  };
}
