/**
 * NamespaceLifecycle, the first admission plugin (upstream `plugin/namespace/lifecycle`): no
 * new object in a namespace that does not exist (404 `namespaces "x" not found`) or is being
 * deleted (403 with a `NamespaceTerminating` cause), so the namespace controller can empty a
 * terminating namespace for good.
 *
 * It runs in the mutating phase, as upstream's, so these answers come before validation's; it
 * reads nothing of the object, so creates prepared by a write worker get it too. The namespaces
 * it knows come from a cache kept by a store watch (`run`); one it does not know is read from
 * the store, so the cache can make admission faster, never wrong about existence.
 */
import { notFound, type Clock, type Logger } from '../../lib/index.js';
import type { KeyValueStore } from '../../storage/index.js';
import { decodeObject } from '../registry/object-codec.js';
import { objectKey, resourcePrefix, type KeySpace } from '../registry/storage-key.js';
import { admissionForbidden } from './admission-forbidden.js';
import type { AdmissionAttributes, AdmissionRequest, MutatingAdmissionPlugin } from './admission-plugin.js';
import { NamespaceCache } from './namespace-cache.js';

export interface NamespaceLifecycleDeps {
  readonly store: KeyValueStore;
  readonly clock: Clock;
  readonly log: Logger;
}

const namespaces: KeySpace = { group: '', resource: 'namespaces', namespaced: false };

export class NamespaceLifecycle implements MutatingAdmissionPlugin {
  readonly name = 'NamespaceLifecycle';
  readonly readsObject = false;
  readonly #store: KeyValueStore;
  readonly #deps: NamespaceLifecycleDeps;
  #cache: NamespaceCache | undefined;

  constructor(deps: NamespaceLifecycleDeps) {
    this.#deps = deps;
    this.#store = deps.store;
  }

  /** Creates of namespaced objects (a namespace itself is cluster-scoped). */
  handles(request: AdmissionRequest): boolean {
    return request.operation === 'CREATE' && request.namespace !== undefined;
  }

  /**
   * Keeps the namespace cache current until `signal` aborts (resolves then). Without it every
   * create reads its namespace from the store.
   */
  run(signal: AbortSignal): Promise<void> {
    const cache = new NamespaceCache({
      store: this.#store,
      prefix: resourcePrefix(namespaces),
      log: this.#deps.log,
      clock: this.#deps.clock,
    });
    this.#cache = cache;
    return cache.run(signal).finally(() => {
      if (this.#cache === cache) this.#cache = undefined;
    });
  }

  /** @throws NotFound (no such namespace), Forbidden (Terminating) */
  async admit(attributes: AdmissionAttributes): Promise<void> {
    const namespace = attributes.namespace as string;
    const cached = this.#cache?.phaseOf(namespace);
    if (cached === 'Active') return;
    if (cached === 'Terminating') throw terminating(attributes, namespace);
    const kv = await this.#store.find(objectKey(namespaces, undefined, namespace, 'namespaces'));
    if (!kv) {
      throw notFound(`namespaces "${namespace}" not found`, {
        details: { name: namespace, group: '', kind: 'namespaces' },
      });
    }
    const ns = decodeObject(kv);
    const phase = (ns['status'] as { phase?: unknown } | undefined)?.phase;
    if (ns.metadata.deletionTimestamp !== undefined || phase === 'Terminating') {
      throw terminating(attributes, namespace);
    }
  }
}

function terminating(request: AdmissionRequest, namespace: string): Error {
  return admissionForbidden(
    request,
    `unable to create new content in namespace ${namespace} because it is being terminated`,
    [
      {
        reason: 'NamespaceTerminating',
        message: `namespace ${namespace} is being terminated`,
        field: 'metadata.namespace',
      },
    ],
  );
}
