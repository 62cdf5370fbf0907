/**
 * Sends pod statuses to the API (kubelet's status manager): the latest status per pod, sent
 * when it differs from what was last sent or what the API holds, as a strategic-merge patch of
 * `pods/status` (conditions merge by type, so conditions other writers own survive). One
 * write per pod at a time; a newer status replaces a queued one. Failures are retried on the
 * next `set` or `resync`, and a pod that is gone (NotFound) is dropped.
 */
import type { KubeObject, Pod, PodStatus } from '../../api/index.js';
import { builtinResources, type ApiClient } from '../../client/index.js';
import { describeError, isNotFound, type Logger } from '../../lib/index.js';

interface Entry {
  namespace: string;
  name: string;
  uid: string;
  desired: PodStatus;
  sentJson: string | undefined;
  writing: Promise<void> | undefined;
  dirty: boolean;
}

function comparable(status: PodStatus): string {
  return JSON.stringify(status);
}

export class PodStatusWriter {
  readonly #client: ApiClient;
  readonly #log: Logger;
  readonly #entries = new Map<string, Entry>();

  constructor(options: { readonly client: ApiClient; readonly log: Logger }) {
    this.#client = options.client;
    this.#log = options.log;
  }

  /** The status last sent for a pod (what the API holds once the write landed). */
  lastSent(uid: string): PodStatus | undefined {
    const e = this.#entries.get(uid);
    return e?.sentJson ? (JSON.parse(e.sentJson) as PodStatus) : undefined;
  }

  /** Queues `status` for `pod`; resolves when it was written (or found unnecessary). */
  set(pod: Pod, status: PodStatus): Promise<void> {
    const uid = pod.metadata?.uid ?? '';
    let e = this.#entries.get(uid);
    if (!e) {
      e = {
        namespace: pod.metadata?.namespace ?? 'default',
        name: pod.metadata?.name ?? '',
        uid,
        desired: status,
        sentJson: pod.status ? comparable(pod.status) : undefined,
        writing: undefined,
        dirty: false,
      };
      this.#entries.set(uid, e);
    }
    e.desired = status;
    if (comparable(status) === e.sentJson) return e.writing ?? Promise.resolve();
    e.dirty = true;
    if (!e.writing) e.writing = this.#drain(e);
    return e.writing;
  }

  /** Forgets a pod (it was deleted). */
  forget(uid: string): void {
    this.#entries.delete(uid);
  }

  async #drain(e: Entry): Promise<void> {
    try {
      while (e.dirty) {
        e.dirty = false;
        const status = e.desired;
        const json = comparable(status);
        if (json === e.sentJson) continue;
        try {
          await this.#client
            .resource<Pod & KubeObject>(builtinResources.pods, e.namespace)
            .patch(
              e.name,
              { metadata: { uid: e.uid }, status },
              { type: 'strategic', subresource: 'status', fieldManager: 'h8s-agent' },
            );
          e.sentJson = json;
        } catch (err) {
          if (isNotFound(err)) {
            this.#entries.delete(e.uid);
            return;
          }
          this.#log.warn('Cannot update pod status', {
            pod: `${e.namespace}/${e.name}`,
            error: describeError(err),
          });
          return;
        }
      }
    } finally {
      e.writing = undefined;
    }
  }
}
