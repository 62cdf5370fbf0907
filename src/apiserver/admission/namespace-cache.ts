/**
 * The namespaces this server has seen, kept current by a store watch (upstream's namespace
 * lifecycle admission reads an informer cache the same way). Creates in a namespace consult it
 * instead of reading the namespace from the store on every request; a namespace the cache does
 * not know (not synced yet, or created a moment ago through another server) is read from the
 * store, so the cache can only make admission faster, never wrong about existence.
 */
import { describeError, type Clock, type Logger } from '../../lib/index.js';
import type { KeyValueStore } from '../../storage/index.js';
import { decodeShared } from '../registry/object-codec.js';

export type NamespacePhase = 'Active' | 'Terminating';

const relistDelayMs = 1000;

export class NamespaceCache {
  readonly #store: KeyValueStore;
  readonly #prefix: string;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #phases = new Map<string, NamespacePhase>();
  #isSynced = false;

  constructor(deps: { store: KeyValueStore; prefix: string; log: Logger; clock: Clock }) {
    this.#store = deps.store;
    this.#prefix = deps.prefix;
    this.#log = deps.log;
    this.#clock = deps.clock;
  }

  /** The phase of a namespace the cache knows, else undefined (ask the store). */
  phaseOf(name: string): NamespacePhase | undefined {
    return this.#isSynced ? this.#phases.get(name) : undefined;
  }

  #record(key: string, obj: { metadata: { deletionTimestamp?: string }; status?: unknown }): void {
    const phase = (obj.status as { phase?: unknown } | undefined)?.phase;
    this.#phases.set(
      key.slice(this.#prefix.length),
      obj.metadata.deletionTimestamp !== undefined || phase === 'Terminating' ? 'Terminating' : 'Active',
    );
  }

  /** Lists and watches until `signal` aborts; relists after errors. Never throws. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        const page = await this.#store.list(this.#prefix);
        this.#phases.clear();
        for (const kv of page.items) this.#record(kv.key, decodeShared(kv));
        this.#isSynced = true;
        for await (const ev of this.#store.watch(this.#prefix, { fromRevision: page.revision, signal })) {
          if (ev.type === 'progress') continue;
          if (ev.type === 'delete') this.#phases.delete(ev.kv.key.slice(this.#prefix.length));
          else this.#record(ev.kv.key, decodeShared(ev.kv));
        }
      } catch (err) {
        if (signal.aborted) break;
        this.#isSynced = false;
        this.#log.warn('Namespace cache lost its watch; relisting', { error: describeError(err) });
        await this.#clock.sleep(relistDelayMs, signal).catch(() => undefined);
      }
    }
    this.#isSynced = false;
  }
}
