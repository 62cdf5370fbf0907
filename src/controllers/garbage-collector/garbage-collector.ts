/**
 * The garbage collector: ownerReferences cascade (upstream's garbagecollector, same rules).
 *
 * - Background: when an owner is gone, each dependent whose owners are all gone is deleted
 *   (with Background propagation, so the cascade continues down the tree).
 * - Foreground: an owner being deleted with the `foregroundDeletion` finalizer gets its
 *   dependents deleted first (dependents that have dependents of their own in foreground
 *   too); once no dependent with `blockOwnerDeletion: true` is left, the finalizer is removed
 *   and the server deletes the owner.
 * - Orphan: an owner being deleted with the `orphan` finalizer has the ownerReferences to it
 *   removed from all its dependents, then the finalizer removed.
 *
 * Safety: the graph (fed by metadata-only informers over every listable, watchable,
 * deletable resource) only says what to look at. Before deleting anything a worker reads the
 * object and every owner it names from the API server; deletes carry uid and resourceVersion
 * preconditions, so an object that changed meanwhile is re-examined instead of deleted.
 * Orphaning waits until every informer has synced, so no dependent is missed.
 */
import type { KubeObject, OwnerReference } from '../../api/index.js';
import {
  createInformer,
  metadataOnly,
  type ApiClient,
  type ApiResource,
  type Informer,
  type PropagationPolicy,
} from '../../client/index.js';
import {
  Backoff,
  H8sError,
  conflict,
  describeError,
  errorCode,
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
import { createEventRecorder, type EventRecorder } from '../../client/index.js';
import {
  DependencyGraph,
  foregroundDeletionFinalizer,
  orphanFinalizer,
  type GraphNode,
  type ObjectIdentity,
} from './dependency-graph.js';

export interface GarbageCollectorOptions {
  readonly client: ApiClient;
  readonly log?: Logger | undefined;
  readonly clock?: Clock | undefined;
  /** Concurrent attempt-to-delete workers; default 4. */
  readonly workers?: number | undefined;
  /** Concurrent attempt-to-orphan workers; default 2. */
  readonly orphanWorkers?: number | undefined;
  /** How often discovery is re-read for new or removed resources; default 30 s. */
  readonly resyncResourcesMs?: number | undefined;
  /** Resources never monitored, as `group/plural` (core group: `/plural`); default events. */
  readonly ignoredResources?: readonly string[] | undefined;
  /** Informer back-off bounds (tests shorten them). */
  readonly informerBackoffInitialMs?: number | undefined;
  readonly informerBackoffMaxMs?: number | undefined;
}

export interface GarbageCollector {
  /** Monitors resources and collects garbage until `signal` aborts. Never rejects. */
  run(signal: AbortSignal): Promise<void>;
  /** True once every monitored resource has been listed into the graph. */
  hasSynced(): boolean;
  /** The resources currently monitored, as `group/version/plural`. */
  monitoredResources(): string[];
}

const defaultIgnored = ['/events', 'events.k8s.io/events'];

/** The error of a cluster-scoped object naming a namespaced owner: it will not resolve on retry. */
class InvalidOwnerScopeError extends Error {}

type OwnerState = { readonly state: 'absent' } | { readonly state: 'present'; readonly owner: KubeObject };

interface LiveObject {
  readonly resource: ApiResource;
  readonly object: KubeObject;
}

function resourceKey(r: ApiResource): string {
  return `${r.group}/${r.version}/${r.plural}`;
}

function hasFinalizer(obj: KubeObject, finalizer: string): boolean {
  return obj.metadata.finalizers?.includes(finalizer) ?? false;
}

export function createGarbageCollector(options: GarbageCollectorOptions): GarbageCollector {
  const { client } = options;
  const clock = options.clock ?? systemClock;
  const log = (options.log ?? nullLogger).child({ controller: 'garbage-collector' });
  const ignored = new Set(options.ignoredResources ?? defaultIgnored);
  const events: EventRecorder = createEventRecorder({
    client,
    component: 'garbage-collector-controller',
    log,
    clock,
  });
  const deleteQueue = createWorkQueue({ clock, backoffInitialMs: 5, backoffMaxMs: 300_000 });
  const orphanQueue = createWorkQueue({ clock, backoffInitialMs: 5, backoffMaxMs: 300_000 });
  const graph = new DependencyGraph({
    log,
    enqueueDelete: (uid, rateLimited) =>
      rateLimited ? deleteQueue.addRateLimited(uid) : deleteQueue.add(uid),
    enqueueOrphan: (uid) => orphanQueue.add(uid),
    reportInvalidNamespaceOwnerRef: (dependent, owner) =>
      events.warning(
        dependent,
        'OwnerRefInvalidNamespace',
        `ownerRef [${owner.apiVersion}/${owner.kind}, namespace: ${dependent.namespace}, name: ${owner.name}, uid: ${owner.uid}] does not exist in namespace "${dependent.namespace}"`,
      ),
  });
  const monitors = new Map<
    string,
    { informer: Informer<KubeObject>; stop: () => void; done: Promise<void> }
  >();
  /** Owners verified absent recently (`uid|namespace|group|kind|name`), to spare live reads. */
  const absentOwners = new Map<string, true>();
  let monitorsListed = false;

  const isSynced = (): boolean =>
    monitorsListed && [...monitors.values()].every((m) => m.informer.hasSynced());

  function rememberAbsent(key: string): void {
    absentOwners.delete(key);
    absentOwners.set(key, true);
    if (absentOwners.size > 1000) absentOwners.delete(absentOwners.keys().next().value as string);
  }

  function startMonitor(resource: ApiResource, signal: AbortSignal): void {
    const informer = createInformer<KubeObject>({
      client,
      resource,
      log,
      clock,
      transform: metadataOnly,
      backoffInitialMs: options.informerBackoffInitialMs,
      backoffMaxMs: options.informerBackoffMaxMs,
    });
    informer.addEventHandler({
      onAdd: (obj) => graph.observe(obj),
      onUpdate: (old, obj) => graph.observe(obj, old),
      onDelete: (obj) => graph.observeDeleted(obj),
    });
    // Stopped by `run` when it ends, or by syncMonitors when the resource goes away.
    const monitor = linkSignal(signal);
    const done = informer.run(monitor.signal).finally(() => monitor.dispose());
    monitors.set(resourceKey(resource), { informer, stop: () => monitor.abort(), done });
  }

  /** Starts informers for new deletable resources and stops those no longer served. */
  async function syncMonitors(signal: AbortSignal): Promise<void> {
    const result = await client.discovery.listServerResources({ refresh: true, signal });
    const wanted = new Map<string, ApiResource>();
    for (const r of result.resources) {
      if (!r.isPreferredVersion || ignored.has(`${r.group}/${r.plural}`)) continue;
      if (!['list', 'watch', 'delete'].every((v) => r.verbs.includes(v))) continue;
      wanted.set(resourceKey(r), r);
    }
    const failedGroups = new Set(
      result.failures.map((f) => f.groupVersion.split('/').slice(0, -1).join('/')),
    );
    for (const [key, m] of monitors) {
      // Keep monitors of groups whose discovery failed this time; they may be back next time.
      const group = key.split('/')[0] ?? '';
      if (!wanted.has(key) && !failedGroups.has(group)) {
        m.stop();
        monitors.delete(key);
        log.info('Stopped monitoring resource', { resource: key });
      }
    }
    for (const [key, r] of wanted) {
      if (monitors.has(key)) continue;
      startMonitor(r, signal);
      if (monitorsListed) log.info('Started monitoring resource', { resource: key });
    }
    if (!monitorsListed) log.info('Monitoring resources', { count: monitors.size });
    monitorsListed = true;
  }

  /** The live object for `identity`, or 'absent' (404, another uid, or an impossible scope). */
  async function getLive(identity: ObjectIdentity, signal: AbortSignal): Promise<LiveObject | 'absent'> {
    const resource = await client.discovery.getResourceFor(identity.apiVersion, identity.kind, { signal });
    if (resource.namespaced && identity.namespace === '') return 'absent';
    const rc = client.resource(resource, resource.namespaced ? identity.namespace : undefined);
    const object = await rc.find(identity.name, { signal });
    if (!object || object.metadata.uid !== identity.uid) return 'absent';
    return { resource, object };
  }

  /** `identity` as the graph should know it once verified absent (cluster-scoped kinds have no namespace). */
  async function normalized(identity: ObjectIdentity, signal: AbortSignal): Promise<ObjectIdentity> {
    const resource = await client.discovery.findResourceFor(identity.apiVersion, identity.kind, { signal });
    return resource && !resource.namespaced ? { ...identity, namespace: '' } : identity;
  }

  async function ownerState(ref: OwnerReference, item: GraphNode, signal: AbortSignal): Promise<OwnerState> {
    const resource = await client.discovery.getResourceFor(ref.apiVersion, ref.kind, { signal });
    const namespace = resource.namespaced ? item.identity.namespace : '';
    const cacheKey = `${ref.uid}|${namespace}|${resource.group}|${ref.kind}|${ref.name}`;
    if (absentOwners.has(cacheKey)) return { state: 'absent' };
    if (item.identity.namespace === '' && resource.namespaced) {
      throw new InvalidOwnerScopeError(
        `Cluster-scoped object "${item.identity.name}" names namespaced owner ${ref.kind} "${ref.name}"`,
      );
    }
    const owner = await client
      .resource(resource, resource.namespaced ? namespace : undefined)
      .find(ref.name, { signal });
    if (!owner || owner.metadata.uid !== ref.uid) {
      rememberAbsent(cacheKey);
      return { state: 'absent' };
    }
    return { state: 'present', owner };
  }

  async function updateObject(live: LiveObject, obj: KubeObject, signal: AbortSignal): Promise<void> {
    const ns = live.resource.namespaced ? obj.metadata.namespace : undefined;
    await client.resource(live.resource, ns).update(obj, { signal, fieldManager: 'garbage-collector' });
  }

  /** Removes `finalizer` from the live object, re-reading on conflicts. */
  async function removeFinalizer(
    identity: ObjectIdentity,
    first: LiveObject,
    finalizer: string,
    signal: AbortSignal,
  ): Promise<void> {
    let live: LiveObject | 'absent' = first;
    for (let attempt = 0; attempt < 5; attempt++) {
      if (live === 'absent' || !hasFinalizer(live.object, finalizer)) return;
      const copy = structuredClone(live.object);
      copy.metadata.finalizers = (copy.metadata.finalizers ?? []).filter((f) => f !== finalizer);
      try {
        await updateObject(live, copy, signal);
        log.info('Removed finalizer', {
          kind: identity.kind,
          namespace: identity.namespace,
          name: identity.name,
          finalizer,
        });
        return;
      } catch (err) {
        if (isNotFound(err)) return;
        if (!isConflict(err)) throw err;
      }
      live = await getLive(identity, signal);
    }
    throw conflict(
      `Could not remove finalizer "${finalizer}" from ${identity.kind} "${identity.name}": it keeps changing`,
    );
  }

  async function deleteItem(
    item: GraphNode,
    live: LiveObject,
    policy: PropagationPolicy,
    signal: AbortSignal,
  ): Promise<ReconcileResult> {
    const { identity } = item;
    log.info('Deleting object', {
      kind: identity.kind,
      namespace: identity.namespace,
      name: identity.name,
      uid: identity.uid,
      propagationPolicy: policy,
    });
    try {
      const pending = await client
        .resource(live.resource, live.resource.namespaced ? identity.namespace : undefined)
        .delete(identity.name, {
          propagationPolicy: policy,
          preconditions: { uid: identity.uid, resourceVersion: live.object.metadata.resourceVersion },
          signal,
        });
      // Until the informer shows it, remember that deletion has started (spares a second delete).
      if (pending?.metadata.deletionTimestamp && !item.isDeletingDependents) item.isBeingDeleted = true;
    } catch (err) {
      if (isNotFound(err)) {
        graph.observeVerifiedAbsent(await normalized(identity, signal));
        return undefined;
      }
      // Changed since we read it (maybe a new owner): look again, without calling it a failure.
      if (isConflict(err)) return { requeue: true };
      throw err;
    }
    return undefined;
  }

  async function processDeletingDependents(
    item: GraphNode,
    live: LiveObject,
    signal: AbortSignal,
  ): Promise<void> {
    const blocking = item.blockingDependents();
    if (blocking.length === 0) {
      await removeFinalizer(item.identity, live, foregroundDeletionFinalizer, signal);
      return;
    }
    for (const dep of blocking) if (!dep.isDeletingDependents) deleteQueue.add(dep.identity.uid);
  }

  async function attemptToDelete(uid: string, signal: AbortSignal): Promise<ReconcileResult> {
    if (!isSynced()) return { requeueAfterMs: 250 };
    const item = graph.find(uid);
    if (!item) return undefined;
    // Being deleted is a one-way trip; its dependents are handled when it is gone.
    if (item.isBeingDeleted && !item.isDeletingDependents) return undefined;
    const live = await getLive(item.identity, signal);
    if (live === 'absent') {
      graph.observeVerifiedAbsent(await normalized(item.identity, signal));
      return undefined;
    }
    const result = await decide(item, live, signal);
    // An owner that exists but no informer has shown us yet: look again later.
    if (result === undefined && graph.find(uid)?.isVirtual) return { requeue: true };
    return result;
  }

  async function decide(item: GraphNode, live: LiveObject, signal: AbortSignal): Promise<ReconcileResult> {
    if (item.isDeletingDependents) {
      await processDeletingDependents(item, live, signal);
      return undefined;
    }
    const refs = live.object.metadata.ownerReferences ?? [];
    if (refs.length === 0) return undefined;
    const solid: OwnerReference[] = [];
    const dangling: OwnerReference[] = [];
    const waiting: OwnerReference[] = [];
    for (const ref of refs) {
      let state: OwnerState;
      try {
        state = await ownerState(ref, item, signal);
      } catch (err) {
        if (err instanceof InvalidOwnerScopeError) {
          // Will not resolve on retry: report it and leave the object alone (as upstream).
          events.warning(item.identity, 'OwnerRefInvalidNamespace', err.message);
          log.info('Ignoring an invalid owner reference', { error: err.message });
          return undefined;
        }
        throw err;
      }
      if (state.state === 'absent') dangling.push(ref);
      else if (
        state.owner.metadata.deletionTimestamp &&
        hasFinalizer(state.owner, foregroundDeletionFinalizer)
      )
        waiting.push(ref);
      else solid.push(ref);
    }

    if (solid.length > 0) {
      if (dangling.length === 0 && waiting.length === 0) return undefined;
      // Drop references to owners that are gone, and to owners waiting for us: they would
      // otherwise wait for a dependent that is not going away.
      const drop = new Set([...dangling, ...waiting].map((r) => r.uid));
      const copy = structuredClone(live.object);
      copy.metadata.ownerReferences = refs.filter((r) => !drop.has(r.uid));
      try {
        await updateObject(live, copy, signal);
        log.info('Removed owner references', {
          kind: item.identity.kind,
          namespace: item.identity.namespace,
          name: item.identity.name,
          owners: [...drop],
        });
      } catch (err) {
        if (isConflict(err) || isNotFound(err)) return { requeue: true };
        throw err;
      }
      return undefined;
    }

    if (waiting.length > 0 && item.dependents.size > 0) {
      // An owner waits for us and we have dependents: delete in foreground so ours go first.
      for (const dep of item.dependents) {
        if (dep.isDeletingDependents) {
          // A cycle guard as upstream: stop blocking our owners so the chain can finish.
          const copy = structuredClone(live.object);
          copy.metadata.ownerReferences = refs.map((r) => {
            const { blockOwnerDeletion: _b, ...rest } = r;
            return r.blockOwnerDeletion === true ? { ...rest, blockOwnerDeletion: false } : r;
          });
          try {
            await updateObject(live, copy, signal);
          } catch (err) {
            if (isConflict(err) || isNotFound(err)) return { requeue: true };
            throw err;
          }
          return { requeue: true };
        }
      }
      return deleteItem(item, live, 'Foreground', signal);
    }

    const policy: PropagationPolicy = hasFinalizer(live.object, orphanFinalizer)
      ? 'Orphan'
      : hasFinalizer(live.object, foregroundDeletionFinalizer)
        ? 'Foreground'
        : 'Background';
    return deleteItem(item, live, policy, signal);
  }

  async function attemptToOrphan(uid: string, signal: AbortSignal): Promise<ReconcileResult> {
    // Orphaning with an incomplete graph could miss a dependent that would later be collected.
    if (!isSynced()) return { requeueAfterMs: 250 };
    const owner = graph.find(uid);
    if (!owner) return undefined;
    const live = await getLive(owner.identity, signal);
    if (live === 'absent' || !hasFinalizer(live.object, orphanFinalizer)) return undefined;
    const failures: string[] = [];
    let firstFailure: unknown;
    let orphaned = 0;
    for (const dep of [...owner.dependents]) {
      try {
        if (await removeOwnerReference(dep.identity, uid, signal)) orphaned++;
      } catch (err) {
        firstFailure ??= err;
        failures.push(`${dep.identity.kind} "${dep.identity.name}": ${describeError(err)}`);
      }
    }
    if (failures.length > 0) {
      throw new H8sError(
        errorCode(firstFailure) ?? 'InternalError',
        `Could not orphan ${failures.length} dependent(s) of ${owner.identity.kind} "${owner.identity.name}": ${failures.slice(0, 5).join('; ')}`,
        { cause: firstFailure },
      );
    }
    if (orphaned > 0)
      log.info('Orphaned dependents', {
        kind: owner.identity.kind,
        namespace: owner.identity.namespace,
        name: owner.identity.name,
        count: orphaned,
      });
    await removeFinalizer(owner.identity, live, orphanFinalizer, signal);
    return undefined;
  }

  /** Removes the reference to `ownerUid` from a dependent; false when there was none. */
  async function removeOwnerReference(
    identity: ObjectIdentity,
    ownerUid: string,
    signal: AbortSignal,
  ): Promise<boolean> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const live = await getLive(identity, signal);
      if (live === 'absent') return false;
      const refs = live.object.metadata.ownerReferences ?? [];
      if (!refs.some((r) => r.uid === ownerUid)) return false;
      const copy = structuredClone(live.object);
      copy.metadata.ownerReferences = refs.filter((r) => r.uid !== ownerUid);
      try {
        await updateObject(live, copy, signal);
        return true;
      } catch (err) {
        if (isNotFound(err)) return false;
        if (!isConflict(err)) throw err;
      }
    }
    throw conflict(
      `Could not remove an owner reference from ${identity.kind} "${identity.name}": it keeps changing`,
    );
  }

  const deleteController = createController({
    name: 'garbage-collector',
    queue: deleteQueue,
    workers: options.workers ?? 4,
    log: options.log,
    reconcile: attemptToDelete,
  });
  const orphanController = createController({
    name: 'garbage-collector-orphan',
    queue: orphanQueue,
    workers: options.orphanWorkers ?? 2,
    log: options.log,
    reconcile: attemptToOrphan,
  });

  return {
    hasSynced: isSynced,
    monitoredResources: () => [...monitors.keys()].sort(),
    async run(parent) {
      const linked = linkSignal(parent);
      const { signal } = linked;
      const backoff = new Backoff({ initialMs: 500, maxMs: 30_000, jitter: 0.2 });
      let failing = false;
      // Discovery first: nothing to monitor until the server answers.
      while (!signal.aborted && !monitorsListed) {
        try {
          await syncMonitors(signal);
        } catch (err) {
          if (signal.aborted) break;
          if (!failing)
            log.warn('Cannot discover resources to monitor; retrying', {
              error: describeError(err),
              code: errorCode(err),
            });
          failing = true;
          await clock.sleep(backoff.next(), signal).catch(() => undefined);
        }
      }
      const workers = Promise.all([deleteController.run(signal), orphanController.run(signal)]);
      const resyncMs = options.resyncResourcesMs ?? 30_000;
      while (!signal.aborted) {
        try {
          await clock.sleep(resyncMs, signal);
          await syncMonitors(signal);
          failing = false;
        } catch (err) {
          if (signal.aborted) break;
          if (!failing)
            log.warn('Cannot re-read discovery; keeping the current monitors', {
              error: describeError(err),
              code: errorCode(err),
            });
          failing = true;
        }
      }
      for (const m of monitors.values()) m.stop();
      await Promise.all([workers, ...[...monitors.values()].map((m) => m.done)]);
      linked.dispose();
    },
  };
}
