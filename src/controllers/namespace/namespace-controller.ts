/**
 * Namespace lifecycle: finishes the deletion of namespaces (upstream's namespace controller).
 *
 * When a namespace has a `deletionTimestamp` (the server set phase Terminating and keeps the
 * `kubernetes` finalizer in `spec.finalizers`), the controller deletes every namespaced object
 * of every served resource in it (found through discovery), with Background propagation so
 * the garbage collector takes care of dependents. It then waits until nothing is left, which
 * respects the objects' own finalizers (foreground deletion, custom finalizers), and finally
 * removes `kubernetes` through `namespaces/{name}/finalize`, after which the server deletes
 * the namespace. While content remains it reports why in the namespace's status conditions,
 * as upstream does (NamespaceDeletionDiscoveryFailure, NamespaceDeletionContentFailure,
 * NamespaceContentRemaining, NamespaceFinalizersRemaining, ...).
 *
 * It never finalizes a namespace while discovery is incomplete: an unreadable group could
 * hold objects that would otherwise outlive their namespace.
 */
import type { KubeObject } from '../../api/index.js';
import {
  builtinResources,
  createInformer,
  finalizeNamespace,
  type ApiClient,
  type ApiResource,
} from '../../client/index.js';
import {
  describeError,
  isConflict,
  isNotFound,
  nullLogger,
  systemClock,
  type Clock,
  type Logger,
} from '../../lib/index.js';
import {
  createController,
  createWorkQueue,
  linkSignal,
  type ReconcileResult,
} from '../../reconcile/index.js';

export const kubernetesFinalizer = 'kubernetes';

export interface NamespaceCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  lastTransitionTime?: string;
  reason?: string;
  message?: string;
}

export interface Namespace extends KubeObject {
  spec?: { finalizers?: string[]; [field: string]: unknown };
  status?: { phase?: string; conditions?: NamespaceCondition[]; [field: string]: unknown };
}

export const namespaceConditionTypes = [
  'NamespaceDeletionDiscoveryFailure',
  'NamespaceDeletionGroupVersionParsingFailure',
  'NamespaceDeletionContentFailure',
  'NamespaceContentRemaining',
  'NamespaceFinalizersRemaining',
] as const;

const okConditions: Readonly<
  Record<(typeof namespaceConditionTypes)[number], { reason: string; message: string }>
> = {
  NamespaceDeletionDiscoveryFailure: {
    reason: 'ResourcesDiscovered',
    message: 'All resources successfully discovered',
  },
  NamespaceDeletionGroupVersionParsingFailure: {
    reason: 'ParsedGroupVersions',
    message: 'All legacy kube types successfully parsed',
  },
  NamespaceDeletionContentFailure: {
    reason: 'ContentDeleted',
    message: 'All content successfully deleted, may be waiting on finalization',
  },
  NamespaceContentRemaining: { reason: 'ContentRemoved', message: 'All content successfully removed' },
  NamespaceFinalizersRemaining: {
    reason: 'ContentHasNoFinalizers',
    message: 'All content-preserving finalizers finished',
  },
};

/** What one deletion sweep found. */
export interface ContentSweep {
  /** Discovery failures, as `group/version: message`. */
  readonly discoveryFailures: readonly string[];
  /** Failed deletions and lists, as `resource.group: message`. */
  readonly deleteFailures: readonly string[];
  /** `resource.group` → objects still present. */
  readonly remaining: ReadonlyMap<string, number>;
  /** finalizer → objects still carrying it. */
  readonly finalizers: ReadonlyMap<string, number>;
  /** Longest remaining graceful-deletion period among what is left, in seconds. */
  readonly gracePeriodSeconds: number;
}

/**
 * The conditions upstream sets for a sweep, merged into `current` (transition times kept
 * when the status did not change). Returns undefined when nothing changed.
 */
export function mergeDeletionConditions(
  current: readonly NamespaceCondition[],
  sweep: ContentSweep,
  nowIso: string,
): NamespaceCondition[] | undefined {
  const failing = new Map<string, { reason: string; message: string }>();
  if (sweep.discoveryFailures.length > 0) {
    failing.set('NamespaceDeletionDiscoveryFailure', {
      reason: 'DiscoveryFailed',
      message: `Discovery failed for some groups, ${sweep.discoveryFailures.length} failing: ${sweep.discoveryFailures.join(', ')}`,
    });
  }
  if (sweep.deleteFailures.length > 0) {
    failing.set('NamespaceDeletionContentFailure', {
      reason: 'ContentDeletionFailed',
      message: `Failed to delete all resource types, ${sweep.deleteFailures.length} remaining: ${[...sweep.deleteFailures].sort().join(', ')}`,
    });
  }
  const remaining = [...sweep.remaining]
    .filter(([, n]) => n > 0)
    .map(([r, n]) => `${r} has ${n} resource instances`);
  if (remaining.length > 0) {
    failing.set('NamespaceContentRemaining', {
      reason: 'SomeResourcesRemain',
      message: `Some resources are remaining: ${remaining.sort().join(', ')}`,
    });
  }
  const finalizers = [...sweep.finalizers]
    .filter(([, n]) => n > 0)
    .map(([f, n]) => `${f} in ${n} resource instances`);
  if (finalizers.length > 0) {
    failing.set('NamespaceFinalizersRemaining', {
      reason: 'SomeFinalizersRemain',
      message: `Some content in the namespace has finalizers remaining: ${finalizers.sort().join(', ')}`,
    });
  }
  const out = current.map((c) => ({ ...c }));
  let changed = false;
  for (const type of namespaceConditionTypes) {
    const fail = failing.get(type);
    const want = fail
      ? { status: 'True' as const, ...fail }
      : { status: 'False' as const, ...okConditions[type] };
    const existing = out.find((c) => c.type === type);
    if (!existing) {
      out.push({ type, ...want, lastTransitionTime: nowIso });
      changed = true;
    } else if (
      existing.status !== want.status ||
      existing.reason !== want.reason ||
      existing.message !== want.message
    ) {
      if (existing.status !== want.status) existing.lastTransitionTime = nowIso;
      existing.status = want.status;
      existing.reason = want.reason;
      existing.message = want.message;
      changed = true;
    }
  }
  return changed ? out : undefined;
}

export interface NamespaceControllerOptions {
  readonly client: ApiClient;
  readonly log?: Logger | undefined;
  readonly clock?: Clock | undefined;
  /** Concurrent namespaces; default 2. */
  readonly workers?: number | undefined;
  /** Re-examine every namespace this often; default 5 minutes. */
  readonly resyncMs?: number | undefined;
  /** Wait between sweeps while content remains: starts here, doubles every 10 sweeps; default 1 s. */
  readonly recheckMs?: number | undefined;
  readonly maxRecheckMs?: number | undefined;
  /**
   * Delay between seeing a namespace marked for deletion and the first sweep; default 2 s.
   * With several API servers a create admitted just before the deletion may land just after
   * it; upstream waits 5 s for the same reason.
   */
  readonly deletionGraceMs?: number | undefined;
}

export interface NamespaceController {
  run(signal: AbortSignal): Promise<void>;
}

const sweepConcurrency = 6;

/** Runs `fn` over `items`, at most `limit` at a time; rejects with the first failure. */
async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

function resourceLabel(r: ApiResource): string {
  return `${r.plural}.${r.group}`;
}

export function createNamespaceController(options: NamespaceControllerOptions): NamespaceController {
  const { client } = options;
  const clock = options.clock ?? systemClock;
  const log = (options.log ?? nullLogger).child({ controller: 'namespace' });
  const queue = createWorkQueue({ clock, backoffInitialMs: 5, backoffMaxMs: 60_000 });
  const namespaces = client.resource<Namespace>(builtinResources.namespaces);
  const sweeps = new Map<string, number>();
  const recheckMs = options.recheckMs ?? 1_000;
  const maxRecheckMs = options.maxRecheckMs ?? 16_000;
  const informer = createInformer<Namespace>({
    client,
    resource: builtinResources.namespaces,
    log: options.log,
    clock,
    resyncMs: options.resyncMs ?? 300_000,
  });
  const deletionGraceMs = options.deletionGraceMs ?? 2_000;
  const enqueueIfDeleting = (ns: Namespace): void => {
    // Delayed (not immediate) also keeps our own status writes from triggering instant re-sweeps.
    if (ns.metadata.deletionTimestamp && ns.metadata.name) queue.addAfter(ns.metadata.name, deletionGraceMs);
  };
  informer.addEventHandler({
    onAdd: enqueueIfDeleting,
    onUpdate: (_old, ns) => enqueueIfDeleting(ns),
    onDelete: (ns) => {
      if (ns.metadata.name) sweeps.delete(ns.metadata.name);
    },
  });

  /** Deletes what it can in `namespace` and reports what is left. */
  async function sweep(namespace: string, signal: AbortSignal): Promise<ContentSweep> {
    const discovered = await client.discovery.listServerResources({ signal });
    const discoveryFailures = discovered.failures.map((f) => `${f.groupVersion}: ${f.error.message}`);
    const resources = discovered.resources.filter(
      (r) => r.namespaced && r.isPreferredVersion && r.verbs.includes('delete') && r.verbs.includes('list'),
    );
    const deleteFailures: string[] = [];
    const remaining = new Map<string, number>();
    const finalizers = new Map<string, number>();
    let gracePeriodSeconds = 0;
    const nowMs = clock.now();
    // A few resources at a time: a sweep must not flood the API server it shares with everyone.
    await forEachLimited(resources, sweepConcurrency, async (r) => {
      const rc = client.resource(r, namespace);
      try {
        if (r.verbs.includes('deletecollection')) {
          await rc.deleteCollection({ propagationPolicy: 'Background', signal });
        } else {
          const list = await rc.listAll({ signal });
          for (const item of list.items) {
            if (item.metadata.deletionTimestamp) continue;
            await rc
              .delete(item.metadata.name ?? '', { propagationPolicy: 'Background', signal })
              .catch((err: unknown) => {
                if (!isNotFound(err)) throw err;
              });
          }
        }
      } catch (err) {
        if (signal.aborted) throw err;
        deleteFailures.push(`${resourceLabel(r)}: ${describeError(err)}`);
      }
      try {
        const left = await rc.listAll({ signal });
        if (left.items.length > 0) remaining.set(resourceLabel(r), left.items.length);
        for (const item of left.items) {
          for (const f of item.metadata.finalizers ?? []) finalizers.set(f, (finalizers.get(f) ?? 0) + 1);
          const { deletionTimestamp, deletionGracePeriodSeconds } = item.metadata;
          if (deletionTimestamp && deletionGracePeriodSeconds) {
            const endsMs = Date.parse(deletionTimestamp);
            const leftS = Number.isNaN(endsMs)
              ? deletionGracePeriodSeconds
              : Math.ceil((endsMs - nowMs) / 1000);
            gracePeriodSeconds = Math.max(gracePeriodSeconds, Math.min(leftS, deletionGracePeriodSeconds));
          }
        }
      } catch (err) {
        if (signal.aborted) throw err;
        deleteFailures.push(`${resourceLabel(r)}: ${describeError(err)}`);
      }
    });
    return { discoveryFailures, deleteFailures, remaining, finalizers, gracePeriodSeconds };
  }

  async function writeConditions(ns: Namespace, result: ContentSweep, signal: AbortSignal): Promise<void> {
    const conditions = mergeDeletionConditions(
      ns.status?.conditions ?? [],
      result,
      new Date(clock.now()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    );
    if (!conditions) return;
    const copy = structuredClone(ns);
    copy.status = { ...(copy.status ?? {}), phase: 'Terminating', conditions };
    try {
      await namespaces.updateStatus(copy, { signal });
    } catch (err) {
      // Conditions are advisory; the next sweep writes them again.
      if (!isConflict(err) && !isNotFound(err)) throw err;
    }
  }

  async function reconcile(name: string, signal: AbortSignal): Promise<ReconcileResult> {
    const ns = await namespaces.find(name, { signal });
    if (!ns || !ns.metadata.deletionTimestamp) {
      sweeps.delete(name);
      return undefined;
    }
    if (!(ns.spec?.finalizers ?? []).includes(kubernetesFinalizer)) return undefined;
    const result = await sweep(name, signal);
    const done =
      result.discoveryFailures.length === 0 &&
      result.deleteFailures.length === 0 &&
      result.remaining.size === 0;
    await writeConditions(ns, result, signal);
    if (!done) {
      const n = (sweeps.get(name) ?? 0) + 1;
      sweeps.set(name, n);
      if (n === 1 || n % 30 === 0) {
        log.info('Namespace content remains', {
          namespace: name,
          remaining: Object.fromEntries(result.remaining),
          finalizers: Object.fromEntries(result.finalizers),
          discoveryFailures: result.discoveryFailures.length,
          deleteFailures: result.deleteFailures.slice(0, 5),
        });
      }
      const backoffMs = Math.min(maxRecheckMs, recheckMs * 2 ** Math.floor((n - 1) / 10));
      return { requeueAfterMs: Math.max(backoffMs, result.gracePeriodSeconds * 500) };
    }
    // Re-read: the status write bumped the resourceVersion, and finalize is a compare-and-swap.
    const latest = await namespaces.find(name, { signal });
    if (!latest || !(latest.spec?.finalizers ?? []).includes(kubernetesFinalizer)) return undefined;
    const copy = structuredClone(latest);
    copy.spec = {
      ...(copy.spec ?? {}),
      finalizers: (copy.spec?.finalizers ?? []).filter((f) => f !== kubernetesFinalizer),
    };
    try {
      await finalizeNamespace(client, copy, { signal });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      if (isConflict(err)) return { requeue: true };
      throw err;
    }
    sweeps.delete(name);
    log.info('Namespace finalized', { namespace: name });
    return undefined;
  }

  const controller = createController({
    name: 'namespace',
    queue,
    workers: options.workers ?? 2,
    log: options.log,
    reconcile,
  });

  return {
    async run(parent) {
      const linked = linkSignal(parent);
      try {
        await Promise.all([informer.run(linked.signal), controller.run(linked.signal)]);
      } finally {
        linked.dispose();
      }
    },
  };
}
