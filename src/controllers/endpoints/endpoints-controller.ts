/**
 * The endpoints and endpoint-slice controllers (upstream's two, run as one loop per Service
 * here since both read the same pods): for every Service with a selector, keeps
 *
 * - the Endpoints object of the same name: ready addresses, `notReadyAddresses`, grouped in
 *   subsets by how the service ports resolve on each pod; terminating pods left out;
 * - EndpointSlices labelled `kubernetes.io/service-name` and managed by
 *   `endpointslice-controller.k8s.io`, owned by the Service: every endpoint with its
 *   conditions (ready, serving, terminating, as kube-proxy reads them), its node and target
 *   pod, at most 100 endpoints per slice, one set of slices per port mapping and address type.
 *
 * Services without a selector are left alone (their endpoints are the user's). Writes happen
 * only when the content changed, so a resync costs reads only.
 */
import type { KubeObject, Pod, Service } from '../../api/index.js';
import { builtinResources, createInformer, type ApiClient } from '../../client/index.js';
import {
  isAlreadyExists,
  isConflict,
  isNotFound,
  nullLogger,
  systemClock,
  type Clock,
  type Logger,
} from '../../lib/index.js';
import { createController, createWorkQueue, runWhenSynced } from '../../reconcile/index.js';
import {
  portsKey,
  resolvePorts,
  selectEndpoints,
  type PodEndpoint,
  type ResolvedPort,
} from './service-endpoints.js';

export const serviceNameLabel = 'kubernetes.io/service-name';
export const managedByLabel = 'endpointslice.kubernetes.io/managed-by';
export const managedByValue = 'endpointslice-controller.k8s.io';
const maxEndpointsPerSlice = 100;

export interface EndpointsControllerOptions {
  readonly client: ApiClient;
  readonly log?: Logger | undefined;
  readonly clock?: Clock | undefined;
  readonly workers?: number | undefined;
  readonly resyncMs?: number | undefined;
}

type Obj = KubeObject & Record<string, unknown>;
type PodObject = Pod & KubeObject;
type ServiceObject = Service & KubeObject;

interface SliceEndpoint {
  addresses: string[];
  conditions: { ready: boolean; serving: boolean; terminating: boolean };
  nodeName?: string;
  targetRef: { kind: 'Pod'; name: string; namespace: string; uid: string };
  hostname?: string;
}

interface DesiredSlice {
  readonly addressType: 'IPv4' | 'IPv6';
  readonly ports: ResolvedPort[];
  readonly endpoints: SliceEndpoint[];
}

function hostnameFor(service: Service, pod: Pod): string | undefined {
  const h = pod.spec?.hostname;
  return h && pod.spec?.subdomain === service.metadata?.name ? h : undefined;
}

function targetRef(pod: Pod): SliceEndpoint['targetRef'] {
  return {
    kind: 'Pod',
    name: pod.metadata?.name ?? '',
    namespace: pod.metadata?.namespace ?? '',
    uid: pod.metadata?.uid ?? '',
  };
}

/** The Endpoints subsets of a service (upstream's `packSubsets` order: by port set). */
export function desiredSubsets(
  service: Service,
  endpoints: readonly PodEndpoint[],
): Record<string, unknown>[] {
  const groups = new Map<string, { ports: ResolvedPort[]; ready: unknown[]; notReady: unknown[] }>();
  for (const e of endpoints) {
    if (e.terminating && !service.spec?.publishNotReadyAddresses) continue;
    const ports = resolvePorts(service, e.pod);
    if ((service.spec?.ports?.length ?? 0) > 0 && ports.length === 0) continue;
    const key = portsKey(ports);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { ports, ready: [], notReady: [] }));
    const hostname = hostnameFor(service, e.pod);
    const address = {
      ip: e.ip,
      ...(hostname ? { hostname } : {}),
      ...(e.pod.spec?.nodeName ? { nodeName: e.pod.spec.nodeName } : {}),
      targetRef: targetRef(e.pod),
    };
    (e.ready ? g.ready : g.notReady).push(address);
  }
  return [...groups.values()].map((g) => ({
    ...(g.ready.length > 0 ? { addresses: g.ready } : {}),
    ...(g.notReady.length > 0 ? { notReadyAddresses: g.notReady } : {}),
    ports: g.ports.map((p) => ({
      ...(p.name ? { name: p.name } : {}),
      port: p.port,
      protocol: p.protocol,
      ...(p.appProtocol ? { appProtocol: p.appProtocol } : {}),
    })),
  }));
}

/** The EndpointSlices a service should have (content only; names are assigned on write). */
export function desiredSlices(service: Service, endpoints: readonly PodEndpoint[]): DesiredSlice[] {
  const groups = new Map<string, DesiredSlice>();
  for (const e of endpoints) {
    const ports = resolvePorts(service, e.pod);
    if ((service.spec?.ports?.length ?? 0) > 0 && ports.length === 0) continue;
    const addressType = e.ip.includes(':') ? 'IPv6' : 'IPv4';
    const key = `${addressType}|${portsKey(ports)}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { addressType, ports, endpoints: [] }));
    const hostname = hostnameFor(service, e.pod);
    g.endpoints.push({
      addresses: [e.ip],
      conditions: { ready: e.ready, serving: e.serving, terminating: e.terminating },
      ...(e.pod.spec?.nodeName ? { nodeName: e.pod.spec.nodeName } : {}),
      targetRef: targetRef(e.pod),
      ...(hostname ? { hostname } : {}),
    });
  }
  const out: DesiredSlice[] = [];
  for (const g of groups.values()) {
    for (let i = 0; i < g.endpoints.length; i += maxEndpointsPerSlice) {
      out.push({
        addressType: g.addressType,
        ports: g.ports,
        endpoints: g.endpoints.slice(i, i + maxEndpointsPerSlice),
      });
    }
  }
  // A service with ports but no endpoints still gets one empty slice (upstream does).
  if (out.length === 0) out.push({ addressType: 'IPv4', ports: resolvePorts(service, {}), endpoints: [] });
  return out;
}

function slicePorts(ports: readonly ResolvedPort[]): Record<string, unknown>[] {
  return ports.map((p) => ({
    name: p.name,
    port: p.port,
    protocol: p.protocol,
    ...(p.appProtocol ? { appProtocol: p.appProtocol } : {}),
  }));
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export function createEndpointsController(options: EndpointsControllerOptions): {
  run(signal: AbortSignal): Promise<void>;
} {
  const { client } = options;
  const clock = options.clock ?? systemClock;
  const log = (options.log ?? nullLogger).child({ controller: 'endpoints' });
  const queue = createWorkQueue<string>({ clock, backoffInitialMs: 100, backoffMaxMs: 60_000 });
  const services = createInformer<ServiceObject>({
    client,
    resource: builtinResources.services,
    log: options.log,
    clock,
    resyncMs: options.resyncMs ?? 300_000,
  });
  const pods = createInformer<PodObject>({
    client,
    resource: builtinResources.pods,
    log: options.log,
    clock,
  });
  const slices = createInformer<Obj>({
    client,
    resource: builtinResources.endpointSlices,
    labelSelector: `${managedByLabel}=${managedByValue}`,
    log: options.log,
    clock,
  });
  slices.addIndexer('service', (s) => [
    `${s.metadata.namespace ?? ''}/${s.metadata.labels?.[serviceNameLabel] ?? ''}`,
  ]);
  const keyOf = (o: KubeObject): string => `${o.metadata.namespace ?? ''}/${o.metadata.name ?? ''}`;

  services.addEventHandler({
    onAdd: (s) => queue.add(keyOf(s)),
    onUpdate: (_o, s) => queue.add(keyOf(s)),
    onDelete: (s) => queue.add(keyOf(s)),
  });
  const enqueueServicesOf = (pod: Pod): void => {
    for (const s of services.cache.listByNamespace(pod.metadata?.namespace ?? '')) {
      const sel = s.spec?.selector;
      if (!sel || Object.keys(sel).length === 0) continue;
      const labels = pod.metadata?.labels ?? {};
      if (Object.entries(sel).every(([k, v]) => labels[k] === v)) queue.add(keyOf(s));
    }
  };
  pods.addEventHandler({
    onAdd: enqueueServicesOf,
    onUpdate: (o, p) => {
      enqueueServicesOf(o);
      enqueueServicesOf(p);
    },
    onDelete: enqueueServicesOf,
  });
  slices.addEventHandler({
    onDelete: (s) =>
      queue.add(`${s.metadata.namespace ?? ''}/${s.metadata.labels?.[serviceNameLabel] ?? ''}`),
  });

  async function syncEndpoints(service: ServiceObject, endpoints: readonly PodEndpoint[]): Promise<void> {
    const ns = service.metadata.namespace ?? 'default';
    const name = service.metadata.name ?? '';
    const rc = client.resource<Obj>(builtinResources.endpoints, ns);
    const subsets = desiredSubsets(service, endpoints);
    const labels = { ...(service.metadata.labels ?? {}), 'endpointslice.kubernetes.io/skip-mirror': 'true' };
    const existing = await rc.find(name);
    if (!existing) {
      try {
        await rc.create({
          apiVersion: 'v1',
          kind: 'Endpoints',
          metadata: { name, namespace: ns, labels },
          subsets,
        });
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
        queue.add(`${ns}/${name}`);
      }
      return;
    }
    if (sameJson(existing['subsets'] ?? [], subsets) && sameJson(existing.metadata.labels ?? {}, labels))
      return;
    await rc.update({ ...existing, metadata: { ...existing.metadata, labels }, subsets });
  }

  async function syncSlices(service: ServiceObject, endpoints: readonly PodEndpoint[]): Promise<void> {
    const ns = service.metadata.namespace ?? 'default';
    const name = service.metadata.name ?? '';
    const rc = client.resource<Obj>(builtinResources.endpointSlices, ns);
    const desired = desiredSlices(service, endpoints);
    const existing = [...slices.cache.listByIndex('service', `${ns}/${name}`)];
    const labels = {
      ...(service.metadata.labels ?? {}),
      [serviceNameLabel]: name,
      [managedByLabel]: managedByValue,
    };
    const owner = {
      apiVersion: 'v1',
      kind: 'Service',
      name,
      uid: service.metadata.uid ?? '',
      controller: true,
      blockOwnerDeletion: true,
    };
    const unused = new Set(existing.map((s) => s.metadata.name ?? ''));
    for (const d of desired) {
      const body = { addressType: d.addressType, endpoints: d.endpoints, ports: slicePorts(d.ports) };
      // Reuse a slice of the same address type and ports, else any leftover one.
      const match =
        existing.find(
          (s) =>
            unused.has(s.metadata.name ?? '') &&
            s['addressType'] === d.addressType &&
            sameJson(s['ports'] ?? [], body.ports),
        ) ?? existing.find((s) => unused.has(s.metadata.name ?? '') && s['addressType'] === d.addressType);
      if (match) {
        unused.delete(match.metadata.name ?? '');
        if (
          sameJson(match['endpoints'] ?? [], body.endpoints) &&
          sameJson(match['ports'] ?? [], body.ports) &&
          sameJson(match.metadata.labels ?? {}, labels)
        )
          continue;
        await rc.update({
          ...match,
          metadata: { ...match.metadata, labels, ownerReferences: [owner] },
          ...body,
        });
      } else {
        await rc.create({
          apiVersion: 'discovery.k8s.io/v1',
          kind: 'EndpointSlice',
          metadata: {
            generateName: `${name.slice(0, 57)}-`,
            namespace: ns,
            labels,
            ownerReferences: [owner],
          },
          ...body,
        });
      }
    }
    for (const n of unused) {
      try {
        await rc.delete(n);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
  }

  const controller = createController<string>({
    name: 'endpoints',
    queue,
    workers: options.workers ?? 2,
    log: options.log,
    reconcile: async (key) => {
      const [ns = '', name = ''] = key.split('/');
      const service = services.cache.findByName(ns, name);
      if (!service) {
        // The Service is gone: its Endpoints go too (slices go by their owner reference).
        try {
          await client.resource(builtinResources.endpoints, ns).delete(name);
        } catch (err) {
          if (!isNotFound(err)) throw err;
        }
        return undefined;
      }
      if (!service.spec?.selector || Object.keys(service.spec.selector).length === 0) return undefined;
      const endpoints = selectEndpoints(service, pods.cache.listByNamespace(ns));
      try {
        await syncEndpoints(service, endpoints);
        await syncSlices(service, endpoints);
      } catch (err) {
        // A stale cache against a concurrent write: try again with fresh state.
        if (isConflict(err) || isAlreadyExists(err)) return { requeue: true };
        throw err;
      }
      return undefined;
    },
  });

  return {
    run: (signal) =>
      runWhenSynced([services, pods, slices], controller, signal, () =>
        log.info('Endpoints controller synced'),
      ),
  };
}
