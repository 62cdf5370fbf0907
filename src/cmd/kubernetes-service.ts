/**
 * The `kubernetes` Service in `default` (upstream's apiserver "kubernetes service controller"
 * in `pkg/controlplane/controller/kubernetesservice`): how pods reach the API server. The
 * Service takes the first address of the service CIDR (the allocator never hands it out
 * otherwise), port 443 `https` to the server's port; its Endpoints and EndpointSlice (it has
 * no selector, so the endpoints controller leaves them alone) name this server's advertise
 * address. Reconciled at start and every minute, so a deleted or edited object comes back.
 *
 * One server's address only: servers sharing a store each write their own (upstream's
 * `--endpoint-reconciler-type=lease` keeps all of them; that comes with multi-server
 * endpoints).
 */
import { builtinResources, type ApiClient } from '../client/index.js';
import type { KubeObject } from '../api/index.js';
import { describeError, isAlreadyExists, isConflict, type Clock, type Logger } from '../lib/index.js';

export interface KubernetesServiceConfig {
  /** The first address of the service CIDR (`ServiceAllocation.kubernetesServiceIp`). */
  readonly clusterIp: string;
  /** The API server's port (the Service's targetPort and the endpoints' port). */
  readonly port: number;
  /** The address pods reach the server on. */
  readonly advertiseAddress: string;
  /** Between reconciles (default 60 s). */
  readonly intervalMs?: number;
}

export interface KubernetesServiceDeps {
  readonly client: ApiClient;
  readonly clock: Clock;
  readonly log: Logger;
}

const name = 'kubernetes';
const namespace = 'default';
const defaultIntervalMs = 60_000;

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

type Obj = KubeObject & Record<string, unknown>;

/**
 * Creates or corrects the Service, its Endpoints and its EndpointSlice once.
 * @throws what the API answers (the caller logs and tries again later)
 */
export async function ensureKubernetesService(
  client: ApiClient,
  config: KubernetesServiceConfig,
  log: Logger,
): Promise<void> {
  const ports = [{ name: 'https', port: 443, protocol: 'TCP', targetPort: config.port }];
  const services = client.resource<Obj>(builtinResources.services, namespace);
  const svc = await services.find(name);
  if (!svc) {
    await createIgnoringRace(() =>
      services.create({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name, namespace, labels: { component: 'apiserver', provider: 'kubernetes' } },
        spec: { type: 'ClusterIP', clusterIP: config.clusterIp, ports, sessionAffinity: 'None' },
      } as Obj),
    );
    log.info('Created the kubernetes Service', { clusterIP: config.clusterIp });
  } else {
    const spec = (svc['spec'] ?? {}) as Record<string, unknown>;
    if (spec['clusterIP'] !== config.clusterIp) {
      // The address is immutable; a changed service CIDR needs the Service deleted by hand.
      log.warn('The kubernetes Service has another cluster IP than the service CIDR gives it', {
        clusterIP: spec['clusterIP'],
        expected: config.clusterIp,
      });
    }
    const current = ((spec['ports'] ?? []) as Record<string, unknown>[]).map((p) => ({
      name: p['name'],
      port: p['port'],
      protocol: p['protocol'],
      targetPort: p['targetPort'],
    }));
    if (!sameJson(current, ports) || spec['type'] !== 'ClusterIP') {
      await services.update({ ...svc, spec: { ...spec, type: 'ClusterIP', ports } } as Obj);
      log.info('Corrected the kubernetes Service ports', { targetPort: config.port });
    }
  }

  const subsets = [
    {
      addresses: [{ ip: config.advertiseAddress }],
      ports: [{ name: 'https', port: config.port, protocol: 'TCP' }],
    },
  ];
  const endpoints = client.resource<Obj>(builtinResources.endpoints, namespace);
  const ep = await endpoints.find(name);
  if (!ep) {
    await createIgnoringRace(() =>
      endpoints.create({
        apiVersion: 'v1',
        kind: 'Endpoints',
        metadata: { name, namespace },
        subsets,
      } as Obj),
    );
  } else if (!sameJson(ep['subsets'], subsets)) {
    await endpoints.update({ ...ep, subsets } as Obj);
  }

  const slice = {
    addressType: 'IPv4',
    endpoints: [{ addresses: [config.advertiseAddress], conditions: { ready: true } }],
    ports: [{ name: 'https', port: config.port, protocol: 'TCP' }],
  };
  const labels = { 'kubernetes.io/service-name': name };
  const slices = client.resource<Obj>(builtinResources.endpointSlices, namespace);
  const current = await slices.find(name);
  if (!current) {
    await createIgnoringRace(() =>
      slices.create({
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: { name, namespace, labels },
        ...slice,
      } as Obj),
    );
  } else if (
    !sameJson(current['endpoints'], slice.endpoints) ||
    !sameJson(current['ports'], slice.ports) ||
    current.metadata.labels?.['kubernetes.io/service-name'] !== name
  ) {
    await slices.update({
      ...current,
      metadata: { ...current.metadata, labels: { ...current.metadata.labels, ...labels } },
      ...slice,
    } as Obj);
  }
}

/** Another server created it first: that is what we wanted. */
async function createIgnoringRace(create: () => Promise<unknown>): Promise<void> {
  try {
    await create();
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
  }
}

/** Reconciles at once and every `intervalMs` until `signal` aborts. Never throws. */
export async function runKubernetesService(
  deps: KubernetesServiceDeps,
  config: KubernetesServiceConfig,
  signal: AbortSignal,
): Promise<void> {
  const log = deps.log.child({ component: 'kubernetes-service' });
  while (!signal.aborted) {
    try {
      await ensureKubernetesService(deps.client, config, log);
    } catch (err) {
      if (signal.aborted) break;
      // A conflict is another writer in between: the next round sees its result.
      const fields = { error: describeError(err) };
      if (isConflict(err)) log.debug('Kubernetes Service changed meanwhile; retrying later', fields);
      else log.warn('Cannot reconcile the kubernetes Service; retrying later', fields);
    }
    try {
      await deps.clock.sleep(config.intervalMs ?? defaultIntervalMs, signal);
    } catch {
      break;
    }
  }
}
