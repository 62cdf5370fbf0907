/**
 * The service-account controller (upstream's `serviceaccounts-controller`): every active
 * namespace has a ServiceAccount named `default`, recreated if someone deletes it. Tokens are
 * not stored in Secrets (upstream stopped doing that in 1.24): pods get bound tokens through
 * the TokenRequest API in their projected volume.
 */
import type { KubeObject } from '../../api/index.js';
import { builtinResources, createInformer, type ApiClient } from '../../client/index.js';
import { isAlreadyExists, nullLogger, systemClock, type Clock, type Logger } from '../../lib/index.js';
import { createController, createWorkQueue, runWhenSynced } from '../../reconcile/index.js';

export interface ServiceAccountControllerOptions {
  readonly client: ApiClient;
  readonly log?: Logger | undefined;
  readonly clock?: Clock | undefined;
  /** Accounts every namespace gets; default `['default']`. */
  readonly accounts?: readonly string[] | undefined;
}

export function createServiceAccountController(options: ServiceAccountControllerOptions): {
  run(signal: AbortSignal): Promise<void>;
} {
  const { client } = options;
  const clock = options.clock ?? systemClock;
  const log = (options.log ?? nullLogger).child({ controller: 'serviceaccount' });
  const accounts = options.accounts ?? ['default'];
  const queue = createWorkQueue<string>({ clock, backoffInitialMs: 100, backoffMaxMs: 30_000 });
  const namespaces = createInformer<KubeObject & { status?: { phase?: string } }>({
    client,
    resource: builtinResources.namespaces,
    log: options.log,
    clock,
  });
  const sas = createInformer<KubeObject>({
    client,
    resource: builtinResources.serviceAccounts,
    log: options.log,
    clock,
  });
  namespaces.addEventHandler({
    onAdd: (ns) => queue.add(ns.metadata.name ?? ''),
    onUpdate: (_o, ns) => queue.add(ns.metadata.name ?? ''),
  });
  sas.addEventHandler({
    onDelete: (sa) => {
      if (accounts.includes(sa.metadata.name ?? '')) queue.add(sa.metadata.namespace ?? '');
    },
  });
  const controller = createController<string>({
    name: 'serviceaccount',
    queue,
    workers: 1,
    log: options.log,
    reconcile: async (ns) => {
      const namespace = namespaces.cache.findByName(undefined, ns);
      // A terminating namespace refuses creates; nothing to do there.
      if (!namespace || namespace.metadata.deletionTimestamp || namespace.status?.phase === 'Terminating')
        return undefined;
      for (const name of accounts) {
        if (sas.cache.findByName(ns, name)) continue;
        try {
          await client
            .resource(builtinResources.serviceAccounts, ns)
            .create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: ns } });
          log.info('Created service account', { namespace: ns, name });
        } catch (err) {
          if (!isAlreadyExists(err)) throw err;
        }
      }
      return undefined;
    },
  });
  return {
    run: (signal) => runWhenSynced([namespaces, sas], controller, signal),
  };
}
