/**
 * Runs the controllers together (kube-controller-manager's role), optionally only while this
 * process holds the controllers' Lease, so several `h8s server` processes can run side by side.
 */
import type { ApiClient } from '../client/index.js';
import { badRequest, describeError, nullLogger, systemClock, type Clock, type Logger } from '../lib/index.js';
import { createLeaderElector, createLeaseLock, linkSignal } from '../reconcile/index.js';
import {
  createGarbageCollector,
  type GarbageCollectorOptions,
} from './garbage-collector/garbage-collector.js';
import { createEndpointsController } from './endpoints/endpoints-controller.js';
import { createServiceAccountController } from './service-account/service-account-controller.js';
import { createRootCaPublisher } from './root-ca-publisher/root-ca-publisher.js';
import { createTokenCleaner } from './token-cleaner/token-cleaner.js';
import {
  createNamespaceController,
  type NamespaceControllerOptions,
} from './namespace/namespace-controller.js';

export interface LeaderElectionConfig {
  /** Unique per process; e.g. `<node name>_<random>`. */
  readonly identity: string;
  /** Default `kube-system`. */
  readonly namespace?: string | undefined;
  /** Default `h8s-controllers`. */
  readonly name?: string | undefined;
  readonly leaseDurationMs?: number | undefined;
  readonly renewDeadlineMs?: number | undefined;
  readonly retryPeriodMs?: number | undefined;
}

/** What every controller factory receives. */
export interface ControllerDeps {
  readonly client: ApiClient;
  readonly log: Logger;
  readonly clock: Clock;
}

interface ControllerEntry {
  readonly create: (
    deps: ControllerDeps,
    tuning: ControllerTuning,
  ) => { run(signal: AbortSignal): Promise<void> };
}

/** Per-controller settings (defaults suit production; tests shorten the timings). */
export interface ControllerTuning {
  readonly namespace?: Partial<Omit<NamespaceControllerOptions, 'client' | 'log' | 'clock'>> | undefined;
  readonly garbageCollector?: Partial<Omit<GarbageCollectorOptions, 'client' | 'log' | 'clock'>> | undefined;
  /** PEM of the cluster CA the root-CA publisher puts in every namespace (`kube-root-ca.crt`). */
  readonly rootCaCertPem?: string | undefined;
}

// Add new controllers here, one line each (kept in start order).
const registry: Readonly<Record<string, ControllerEntry>> = {
  'garbage-collector': { create: (d, t) => createGarbageCollector({ ...t.garbageCollector, ...d }) },
  namespace: { create: (d, t) => createNamespaceController({ ...t.namespace, ...d }) },
  endpoints: { create: (d) => createEndpointsController(d) },
  serviceaccount: { create: (d) => createServiceAccountController(d) },
  'root-ca-cert-publisher': { create: (d, t) => createRootCaPublisher({ ...d, caCertPem: t.rootCaCertPem }) },
  tokencleaner: { create: (d) => createTokenCleaner(d) },
};

/** Names of the controllers `startControllers` can run. */
export const controllerNames: readonly string[] = Object.freeze(Object.keys(registry));

export interface StartControllersOptions extends ControllerTuning {
  readonly client: ApiClient;
  readonly log?: Logger | undefined;
  readonly clock?: Clock | undefined;
  /** Stops everything; `done` resolves once all controllers have returned. */
  readonly signal: AbortSignal;
  /** Run only while holding a Lease (several servers); omit to run at once. */
  readonly leaderElection?: LeaderElectionConfig | undefined;
  /** Controller names not to run. */
  readonly disabled?: readonly string[] | undefined;
}

export interface RunningControllers {
  /** Resolves when every controller has stopped after `signal` aborted. Never rejects. */
  readonly done: Promise<void>;
  /** The controllers this process runs (when it leads). */
  readonly names: readonly string[];
  /** True while the controllers run (always true without leader election, until stopped). */
  isActive(): boolean;
}

/**
 * Starts the controllers.
 * @throws BadRequest for an unknown name in `disabled`.
 */
export function startControllers(options: StartControllersOptions): RunningControllers {
  const log = (options.log ?? nullLogger).child({ component: 'controller-manager' });
  const clock = options.clock ?? systemClock;
  for (const name of options.disabled ?? []) {
    if (!(name in registry)) {
      throw badRequest(`Unknown controller "${name}"; known controllers: ${controllerNames.join(', ')}`);
    }
  }
  const names = controllerNames.filter((n) => !(options.disabled ?? []).includes(n));
  let active = false;
  const runAll = async (signal: AbortSignal): Promise<void> => {
    active = true;
    log.info('Starting controllers', { controllers: names });
    const deps: ControllerDeps = { client: options.client, log: options.log ?? nullLogger, clock };
    const tuning: ControllerTuning = {
      namespace: options.namespace,
      garbageCollector: options.garbageCollector,
      rootCaCertPem: options.rootCaCertPem,
    };
    try {
      await Promise.all(
        names.map(async (name) => {
          try {
            await (registry[name] as ControllerEntry).create(deps, tuning).run(signal);
          } catch (err) {
            log.error('Controller stopped with an error', { controller: name, error: describeError(err) });
          }
        }),
      );
      // Controllers return only when stopped; keep the leadership (and the lease) until then.
      if (!signal.aborted) {
        await new Promise<void>((resolve) =>
          signal.addEventListener('abort', () => resolve(), { once: true }),
        );
      }
    } finally {
      active = false;
      log.info('Stopped controllers');
    }
  };
  // One listener on the caller's signal; everything below fans out from our own.
  const linked = linkSignal(options.signal);
  let done: Promise<void>;
  const le = options.leaderElection;
  if (le) {
    const elector = createLeaderElector({
      lock: createLeaseLock({
        client: options.client,
        namespace: le.namespace ?? 'kube-system',
        name: le.name ?? 'h8s-controllers',
        timeoutMs: le.renewDeadlineMs,
      }),
      identity: le.identity,
      leaseDurationMs: le.leaseDurationMs,
      renewDeadlineMs: le.renewDeadlineMs,
      retryPeriodMs: le.retryPeriodMs,
      clock,
      log: options.log,
      onStartedLeading: runAll,
    });
    done = elector.run(linked.signal);
  } else {
    done = runAll(linked.signal);
  }
  return { done: done.finally(() => linked.dispose()), names, isActive: () => active };
}
