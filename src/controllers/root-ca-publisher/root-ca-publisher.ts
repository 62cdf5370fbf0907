/**
 * The root-CA publisher (upstream's `root-ca-cert-publisher`): every active namespace has a
 * ConfigMap `kube-root-ca.crt` whose `ca.crt` is the cluster CA, so pods can verify the API
 * server (the ServiceAccount admission plugin projects it next to the token). A deleted or
 * changed ConfigMap is put back.
 */
import type { KubeObject } from '../../api/index.js';
import { builtinResources, createInformer, type ApiClient } from '../../client/index.js';
import {
  isAlreadyExists,
  isNotFound,
  nullLogger,
  systemClock,
  type Clock,
  type Logger,
} from '../../lib/index.js';
import { createController, createWorkQueue, runWhenSynced } from '../../reconcile/index.js';

export const rootCaConfigMapName = 'kube-root-ca.crt';
const description =
  'Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.';

export interface RootCaPublisherOptions {
  readonly client: ApiClient;
  /** PEM of the cluster CA; without it the controller does nothing. */
  readonly caCertPem?: string | undefined;
  readonly log?: Logger | undefined;
  readonly clock?: Clock | undefined;
}

type ConfigMap = KubeObject & { data?: Record<string, string> };

export function createRootCaPublisher(options: RootCaPublisherOptions): {
  run(signal: AbortSignal): Promise<void>;
} {
  const { client, caCertPem } = options;
  const clock = options.clock ?? systemClock;
  const log = (options.log ?? nullLogger).child({ controller: 'root-ca-cert-publisher' });
  const queue = createWorkQueue<string>({ clock, backoffInitialMs: 100, backoffMaxMs: 30_000 });
  const namespaces = createInformer<KubeObject & { status?: { phase?: string } }>({
    client,
    resource: builtinResources.namespaces,
    log: options.log,
    clock,
  });
  const configMaps = createInformer<ConfigMap>({
    client,
    resource: builtinResources.configMaps,
    fieldSelector: `metadata.name=${rootCaConfigMapName}`,
    log: options.log,
    clock,
  });
  namespaces.addEventHandler({
    onAdd: (ns) => queue.add(ns.metadata.name ?? ''),
    onUpdate: (_o, ns) => queue.add(ns.metadata.name ?? ''),
  });
  configMaps.addEventHandler({
    onUpdate: (_o, cm) => queue.add(cm.metadata.namespace ?? ''),
    onDelete: (cm) => queue.add(cm.metadata.namespace ?? ''),
  });
  const controller = createController<string>({
    name: 'root-ca-cert-publisher',
    queue,
    workers: 1,
    log: options.log,
    reconcile: async (ns) => {
      if (caCertPem === undefined) return undefined;
      const namespace = namespaces.cache.findByName(undefined, ns);
      if (!namespace || namespace.metadata.deletionTimestamp || namespace.status?.phase === 'Terminating')
        return undefined;
      const current = configMaps.cache.findByName(ns, rootCaConfigMapName);
      const api = client.resource<ConfigMap>(builtinResources.configMaps, ns);
      if (!current) {
        try {
          await api.create({
            apiVersion: 'v1',
            kind: 'ConfigMap',
            metadata: {
              name: rootCaConfigMapName,
              namespace: ns,
              annotations: { 'kubernetes.io/description': description },
            },
            data: { 'ca.crt': caCertPem },
          });
          log.info('Published the root CA', { namespace: ns });
        } catch (err) {
          if (!isAlreadyExists(err)) throw err;
        }
        return undefined;
      }
      if (current.data?.['ca.crt'] === caCertPem && Object.keys(current.data).length === 1) return undefined;
      const next = structuredClone(current);
      next.data = { 'ca.crt': caCertPem };
      try {
        await api.update(next);
        log.info('Updated the root CA', { namespace: ns });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      return undefined;
    },
  });
  return {
    run: (signal) => runWhenSynced([namespaces, configMaps], controller, signal),
  };
}
