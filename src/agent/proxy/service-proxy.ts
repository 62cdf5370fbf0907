/**
 * The node's service proxy (kube-proxy): watches Services, EndpointSlices and Namespaces and
 * hands the network layer the full desired service table of each Network (a namespace's
 * `spec.network`, else `default`), so every tenant's Services are programmed only into its own
 * network's router (DESIGN.md "Network"). Changes are batched: at most one sync per
 * `minSyncMs` (kube-proxy's minSyncPeriod, default 1 s here), and a full resync every
 * `resyncMs` repairs anything changed behind the agent's back.
 */
import type { KubeObject, Service } from '../../api/index.js';
import { builtinResources, createInformer, type ApiClient } from '../../client/index.js';
import { describeError, type Clock, type Logger, type TimerHandle } from '../../lib/index.js';
import { proxyModel, type ProxyService, type Slice } from './service-model.js';

/** The network layer's side: program one network's services, idempotently, as a whole. */
export interface ServiceProgrammer {
  syncServices(network: string, services: readonly ProxyService[]): Promise<void>;
}

export interface ServiceProxyOptions {
  readonly client: ApiClient;
  readonly programmer: ServiceProgrammer;
  readonly nodeName: string;
  readonly clock: Clock;
  readonly log: Logger;
  readonly minSyncMs?: number;
  readonly resyncMs?: number;
}

type NamespaceObject = KubeObject & { spec?: { network?: string } };

export class ServiceProxy {
  readonly #o: ServiceProxyOptions;
  #timer: TimerHandle | undefined;
  #lastSyncMs = -Infinity;
  #syncing: Promise<void> | undefined;
  #dirty = false;
  /** Networks programmed last time, so one whose Services all went gets an empty table. */
  #programmed = new Set<string>();
  /** Resolves after the first full sync. */
  readonly synced: Promise<void>;
  #resolveSynced!: () => void;

  constructor(options: ServiceProxyOptions) {
    this.#o = options;
    this.synced = new Promise((r) => (this.#resolveSynced = r));
  }

  async run(signal: AbortSignal): Promise<void> {
    const o = this.#o;
    const services = createInformer<Service & KubeObject>({
      client: o.client,
      resource: builtinResources.services,
      log: o.log,
      clock: o.clock,
    });
    const slices = createInformer<Slice & KubeObject>({
      client: o.client,
      resource: builtinResources.endpointSlices,
      log: o.log,
      clock: o.clock,
    });
    const namespaces = createInformer<NamespaceObject>({
      client: o.client,
      resource: builtinResources.namespaces,
      log: o.log,
      clock: o.clock,
    });
    const kick = (): void =>
      this.#schedule(() => this.#sync(services.cache.list(), slices.cache.list(), namespaces.cache.list()));
    const handlers = { onAdd: kick, onUpdate: kick, onDelete: kick };
    services.addEventHandler(handlers);
    slices.addEventHandler(handlers);
    namespaces.addEventHandler(handlers);
    const runs = [services.run(signal), slices.run(signal), namespaces.run(signal)];
    try {
      await Promise.all([
        services.waitForSync(signal),
        slices.waitForSync(signal),
        namespaces.waitForSync(signal),
      ]);
    } catch {
      await Promise.all(runs);
      return;
    }
    kick();
    const resync = async (): Promise<void> => {
      while (!signal.aborted) {
        try {
          await o.clock.sleep(o.resyncMs ?? 60_000, signal);
        } catch {
          return;
        }
        kick();
      }
    };
    await Promise.all([...runs, resync()]);
    this.#timer?.cancel();
    await this.#syncing;
  }

  #schedule(fn: () => Promise<void>): void {
    this.#dirty = true;
    if (this.#timer || this.#syncing) return;
    const wait = Math.max(0, this.#lastSyncMs + (this.#o.minSyncMs ?? 1_000) - this.#o.clock.monotonicMs());
    this.#timer = this.#o.clock.setTimeout(() => {
      this.#timer = undefined;
      this.#dirty = false;
      this.#lastSyncMs = this.#o.clock.monotonicMs();
      this.#syncing = fn().finally(() => {
        this.#syncing = undefined;
        if (this.#dirty) this.#schedule(fn);
      });
    }, wait);
  }

  async #sync(
    services: readonly Service[],
    slices: readonly Slice[],
    namespaces: readonly NamespaceObject[],
  ): Promise<void> {
    const o = this.#o;
    const networkOf = new Map(namespaces.map((n) => [n.metadata.name ?? '', n.spec?.network || 'default']));
    const model = proxyModel(services, slices, o.nodeName);
    const byNetwork = new Map<string, ProxyService[]>();
    for (const s of model) {
      const net = networkOf.get(s.namespace) ?? 'default';
      let list = byNetwork.get(net);
      if (!list) byNetwork.set(net, (list = []));
      list.push(s);
    }
    for (const net of this.#programmed) if (!byNetwork.has(net)) byNetwork.set(net, []);
    const programmed = new Set<string>();
    for (const [net, list] of byNetwork) {
      try {
        await o.programmer.syncServices(net, list);
        if (list.length > 0) programmed.add(net);
      } catch (err) {
        programmed.add(net);
        o.log.warn('Cannot program services', {
          network: net,
          services: list.length,
          error: describeError(err),
        });
      }
    }
    this.#programmed = programmed;
    this.#resolveSynced();
  }
}
