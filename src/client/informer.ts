/**
 * Informers: a local, indexed copy of one resource kept current by list-then-watch, with event
 * handlers (client-go's reflector + shared informer, in one piece).
 *
 * Guarantees:
 * - After `hasSynced()` the cache holds the objects of one consistent list, then every change
 *   the watch reported, in order. Handlers see each change once, after the cache has it.
 * - The watch resumes from the last seen resourceVersion (events and bookmarks); when the server
 *   answers Expired/Gone (compacted) it lists again and reports the difference as
 *   add/update/delete events (deletes it could not observe come with `finalStateUnknown`).
 * - When the server goes away (connection refused, cut streams, restarts) it retries with
 *   exponential back-off and resumes; the cache stays readable, possibly stale, meanwhile.
 */
import type { KubeObject } from '../api/index.js';
import {
  Backoff,
  abortReason,
  describeError,
  errorCode,
  findH8sError,
  isGone,
  nullLogger,
  systemClock,
  type Clock,
  type Logger,
} from '../lib/index.js';
import type { ApiClient } from './api-client.js';
import { ObjectCache, objectKey, type IndexFunc, type ObjectCacheReader } from './object-cache.js';
import { apiVersionOf, type ResourceRef } from './resource-ref.js';

export interface InformerHandlers<T extends KubeObject> {
  /** A new object; `isInitialList` for objects of the first list (or replayed to a late handler). */
  onAdd?(obj: T, isInitialList: boolean): void;
  /** A changed object, or the same object twice on a resync. */
  onUpdate?(oldObj: T, newObj: T): void;
  /** A deleted object; `finalStateUnknown` when the deletion was inferred from a relist. */
  onDelete?(obj: T, finalStateUnknown: boolean): void;
}

export interface InformerOptions<T extends KubeObject> {
  readonly client: ApiClient;
  readonly resource: ResourceRef;
  /** Only this namespace; default all namespaces (or cluster-scoped). */
  readonly namespace?: string | undefined;
  readonly labelSelector?: string | undefined;
  readonly fieldSelector?: string | undefined;
  /** Every this often, `onUpdate(obj, obj)` for every cached object; 0 or undefined = never. */
  readonly resyncMs?: number | undefined;
  readonly log?: Logger | undefined;
  readonly clock?: Clock | undefined;
  /**
   * Applied to every object before it is cached (e.g. keep only metadata to save memory).
   * Must be pure and must not keep references to its input.
   */
  readonly transform?: ((obj: KubeObject) => T) | undefined;
  /** List page size; default 500. */
  readonly pageSize?: number | undefined;
  /** Server-side watch timeout bounds in seconds; default 300..600 (random, as client-go). */
  readonly minWatchTimeoutSeconds?: number | undefined;
  readonly maxWatchTimeoutSeconds?: number | undefined;
  /** Back-off after failures; default 200 ms doubling to 30 s, with jitter. */
  readonly backoffInitialMs?: number | undefined;
  readonly backoffMaxMs?: number | undefined;
  readonly random?: (() => number) | undefined;
}

export interface Informer<T extends KubeObject> {
  readonly resource: ResourceRef;
  /** The read-only cache; objects are frozen, copy before changing. */
  readonly cache: ObjectCacheReader<T>;
  /** Adds an index to the cache (any time). */
  addIndexer(name: string, fn: IndexFunc<T>): void;
  /**
   * Registers handlers; a handler added after the first sync first gets `onAdd` for every
   * cached object. Returns a function that removes the handlers.
   */
  addEventHandler(handlers: InformerHandlers<T>): () => void;
  /** True once the first list is in the cache. */
  hasSynced(): boolean;
  /** Resolves once synced; rejects with the signal's reason when it aborts first. */
  waitForSync(signal?: AbortSignal): Promise<void>;
  /** The resourceVersion the informer would resume from. */
  lastResourceVersion(): string | undefined;
  /** Lists and watches until `signal` aborts; resolves then. Never rejects for server errors. */
  run(signal: AbortSignal): Promise<void>;
}

/** Keeps only what the garbage collector and similar readers need: type and metadata. */
export function metadataOnly(obj: KubeObject): KubeObject {
  const { managedFields: _mf, ...metadata } = obj.metadata;
  return { apiVersion: obj.apiVersion, kind: obj.kind, metadata: structuredClone(metadata) };
}

export function createInformer<T extends KubeObject = KubeObject>(options: InformerOptions<T>): Informer<T> {
  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  const resourceName = `${options.resource.plural}${options.resource.group ? '.' + options.resource.group : ''}`;
  const log = (options.log ?? nullLogger).child({
    component: 'informer',
    resource: resourceName,
    ...(options.namespace !== undefined ? { namespace: options.namespace } : {}),
  });
  const cache = new ObjectCache<T>();
  const handlers = new Set<InformerHandlers<T>>();
  const apiVersion = apiVersionOf(options.resource);
  const transform = options.transform ?? ((o: KubeObject) => o as T);
  const resourceClient = options.client.resource<KubeObject>(options.resource, options.namespace);
  let synced = false;
  let lastRv: string | undefined;
  const syncWaiters = new Set<() => void>();

  const toCached = (obj: KubeObject): T => {
    if (typeof obj.apiVersion !== 'string' || obj.apiVersion === '') obj.apiVersion = apiVersion;
    if ((typeof obj.kind !== 'string' || obj.kind === '') && options.resource.kind)
      obj.kind = options.resource.kind;
    return transform(obj);
  };

  const dispatch = (fn: (h: InformerHandlers<T>) => void): void => {
    for (const h of [...handlers]) {
      try {
        fn(h);
      } catch (err) {
        // A handler bug must not stop the informer or the other handlers.
        log.error('Informer event handler failed', { error: describeError(err) });
      }
    }
  };

  const upsert = (obj: T, isInitialList: boolean): void => {
    const old = cache.upsert(obj);
    if (old === undefined) dispatch((h) => h.onAdd?.(obj, isInitialList));
    else dispatch((h) => h.onUpdate?.(old, obj));
  };

  const markSynced = (): void => {
    if (synced) return;
    synced = true;
    for (const w of syncWaiters) w();
    syncWaiters.clear();
  };

  /** Lists everything and makes the cache equal to it. Returns the list's resourceVersion. */
  async function listAndReplace(signal: AbortSignal): Promise<string> {
    const list = await resourceClient.listAll({
      labelSelector: options.labelSelector,
      fieldSelector: options.fieldSelector,
      limit: options.pageSize ?? 500,
      signal,
    });
    const seen = new Set<string>();
    const isInitial = !synced;
    for (const raw of list.items) {
      const obj = toCached(raw);
      const key = objectKey(obj);
      seen.add(key);
      const old = cache.find(key);
      if (
        old &&
        old.metadata.resourceVersion === obj.metadata.resourceVersion &&
        old.metadata.uid === obj.metadata.uid
      )
        continue;
      if (old && old.metadata.uid !== obj.metadata.uid) {
        // Deleted and re-created while we were not watching: report both.
        cache.remove(key);
        dispatch((h) => h.onDelete?.(old, true));
      }
      upsert(obj, isInitial);
    }
    for (const key of cache.keys()) {
      if (seen.has(key)) continue;
      const old = cache.remove(key);
      if (old) dispatch((h) => h.onDelete?.(old, true));
    }
    markSynced();
    return list.metadata.resourceVersion;
  }

  /** Watches from `rv` until the stream ends; returns the number of events seen. */
  async function watchFrom(rv: string, signal: AbortSignal): Promise<number> {
    const minT = options.minWatchTimeoutSeconds ?? 300;
    const maxT = options.maxWatchTimeoutSeconds ?? 600;
    const timeoutSeconds = Math.round(minT + (maxT - minT) * random());
    let events = 0;
    for await (const ev of resourceClient.watch({
      resourceVersion: rv,
      allowWatchBookmarks: true,
      timeoutSeconds,
      labelSelector: options.labelSelector,
      fieldSelector: options.fieldSelector,
      signal,
      onOpen: () => {
        if (degraded) log.info('Informer recovered', { resourceVersion: rv });
        degraded = false;
      },
    })) {
      events++;
      const evRv = ev.object.metadata?.resourceVersion;
      if (ev.type === 'BOOKMARK') {
        if (evRv) lastRv = evRv;
        continue;
      }
      const obj = toCached(ev.object);
      if (ev.type === 'DELETED') {
        const old = cache.remove(objectKey(obj));
        if (old) dispatch((h) => h.onDelete?.(obj, false));
      } else {
        upsert(obj, false);
      }
      if (evRv) lastRv = evRv;
    }
    return events;
  }

  /** True between a failure and the next successful list or watch (so we log each outage once). */
  let degraded = false;
  let resyncTimer: { cancel(): void } | undefined;
  const scheduleResync = (signal: AbortSignal): void => {
    const resyncMs = options.resyncMs ?? 0;
    if (resyncMs <= 0 || signal.aborted) return;
    resyncTimer = clock.setTimeout(() => {
      if (signal.aborted) return;
      if (synced) for (const obj of cache.list()) dispatch((h) => h.onUpdate?.(obj, obj));
      scheduleResync(signal);
    }, resyncMs);
  };

  return {
    resource: options.resource,
    cache,
    addIndexer: (name, fn) => cache.addIndexer(name, fn),
    addEventHandler(h) {
      handlers.add(h);
      if (synced) {
        for (const obj of cache.list()) {
          try {
            h.onAdd?.(obj, true);
          } catch (err) {
            log.error('Informer event handler failed', { error: describeError(err) });
          }
        }
      }
      return () => handlers.delete(h);
    },
    hasSynced: () => synced,
    waitForSync(signal) {
      if (synced) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const onAbort = (): void => {
          syncWaiters.delete(done);
          reject(abortReason(signal));
        };
        const done = (): void => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        if (signal?.aborted) {
          onAbort();
          return;
        }
        syncWaiters.add(done);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },
    lastResourceVersion: () => lastRv,
    async run(signal) {
      const backoff = new Backoff({
        initialMs: options.backoffInitialMs ?? 200,
        maxMs: options.backoffMaxMs ?? 30_000,
        jitter: 0.5,
        random,
      });
      let needList = true;
      scheduleResync(signal);
      try {
        while (!signal.aborted) {
          try {
            if (needList) {
              lastRv = await listAndReplace(signal);
              needList = false;
              if (degraded) log.info('Informer recovered', { resourceVersion: lastRv });
              degraded = false;
              backoff.reset();
            }
            const started = clock.monotonicMs();
            const events = await watchFrom(lastRv ?? '0', signal);
            // A watch that ends at once with nothing in it would otherwise spin.
            if (events === 0 && clock.monotonicMs() - started < 1_000)
              await clock.sleep(backoff.next(), signal);
            else backoff.reset();
          } catch (err) {
            if (signal.aborted) break;
            if (isGone(err) || isTooLargeResourceVersion(err)) {
              // Our revision is compacted (or from a store that was replaced): start over.
              log.info('Watch revision expired; listing again', {
                resourceVersion: lastRv,
                error: describeError(err),
              });
              needList = true;
              continue;
            }
            const delayMs = backoff.next();
            if (!degraded) {
              log.warn('Informer lost the API server; retrying', {
                error: describeError(err),
                code: errorCode(err),
                delayMs,
              });
              degraded = true;
            } else {
              log.debug('Informer retry failed', { error: describeError(err), delayMs });
            }
            await clock.sleep(delayMs, signal).catch(() => undefined);
          }
        }
      } finally {
        resyncTimer?.cancel();
      }
    },
  };
}

function isTooLargeResourceVersion(err: unknown): boolean {
  const e = findH8sError(err);
  return (
    e?.code === 'Timeout' && (e.details.causes ?? []).some((c) => c.reason === 'ResourceVersionTooLarge')
  );
}
