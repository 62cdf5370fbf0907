/**
 * Finds the runtime objects a streaming request names (`namespace/pod/container`) from the
 * runtime's labels, as the pod workers created them: the newest container of that name (or
 * the one before it for `previous` logs), and the pod's ready sandbox for port-forward.
 */
import { badRequest, notFound } from '../../lib/index.js';
import type { RuntimeService } from '../../runtime/index.js';
import type { RuntimeSnapshotReader } from '../pods/runtime-snapshot.js';
import {
  latestContainer,
  podNameLabel,
  podNamespaceLabel,
  podUidLabel,
  previousContainer,
  type ContainerView,
  type PodRuntimeView,
} from '../pods/runtime-view.js';

export interface PodRef {
  readonly namespace: string;
  readonly name: string;
}

export class PodLookup {
  readonly #runtime: RuntimeService;
  readonly #snapshot: RuntimeSnapshotReader;

  constructor(runtime: RuntimeService, snapshot: RuntimeSnapshotReader) {
    this.#runtime = runtime;
    this.#snapshot = snapshot;
  }

  /** The pod's UID and sandboxes, newest first. @throws NotFound when this node has no such pod. */
  async #pod(ref: PodRef): Promise<{ uid: string; view: PodRuntimeView }> {
    const sandboxes = await this.#runtime.listPodSandbox({
      labelSelector: { [podNamespaceLabel]: ref.namespace, [podNameLabel]: ref.name },
    });
    const newest = [...sandboxes].sort((a, b) => b.createdAt - a.createdAt)[0];
    const uid = newest?.labels[podUidLabel];
    if (!newest || uid === undefined) {
      throw notFound(`pod "${ref.name}" in namespace "${ref.namespace}" is not running on this node`);
    }
    return { uid, view: await this.#snapshot.readPod(uid) };
  }

  /**
   * The container `name` of the pod (app or init), or with `isPrevious` the one it replaced.
   * @throws NotFound (no such pod here), BadRequest (not started yet, no previous container)
   */
  async getContainer(ref: PodRef, name: string, isPrevious = false): Promise<ContainerView> {
    const { view } = await this.#pod(ref);
    const pick = isPrevious ? previousContainer : latestContainer;
    const found = pick(view, name, 'app') ?? pick(view, name, 'init');
    if (!found) {
      throw badRequest(
        isPrevious
          ? `previous terminated container "${name}" in pod "${ref.name}" not found`
          : `container "${name}" in pod "${ref.name}" is waiting to start: ContainerCreating`,
      );
    }
    return found;
  }

  /** The id of the pod's ready sandbox. @throws NotFound, BadRequest (not ready) */
  async getReadySandbox(ref: PodRef): Promise<string> {
    const { view } = await this.#pod(ref);
    const ready = view.sandboxes.find((s) => s.phase === 'ready');
    if (!ready) throw badRequest(`pod "${ref.name}" in namespace "${ref.namespace}" has no running sandbox`);
    return ready.id;
  }
}
