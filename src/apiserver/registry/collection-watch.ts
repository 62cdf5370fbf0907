/**
 * Watching the objects of one resource (upstream's `Store.Watch` over etcd3's watcher): the
 * initial ADDED events or `sendInitialEvents` with its closing bookmark, selector transitions
 * (an object that stops matching is DELETED with its last matching state), bookmarks when
 * idle, and one ERROR event (410 Expired) for a compacted start revision, which is what
 * client-go and client-node relist on.
 */
import type { KindDefinition, KubeObject } from '../../api/index.js';
import { bestEffort, invalid, isGone, type Logger, type StatusCause } from '../../lib/index.js';
import type { KeyValueStore } from '../../storage/index.js';
import { decodeShared } from './object-codec.js';
import type { WatchOptions } from './operation-options.js';
import { parseResourceVersion } from './resource-version.js';
import { compileSelection, type Selection } from './selection.js';
import { collectionPrefix, type KeySpace } from './storage-key.js';

export type ApiWatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface ApiWatchEvent {
  readonly type: ApiWatchEventType;
  /** Read-only: shared between watchers. A Status for ERROR. */
  readonly object: Readonly<KubeObject> | Readonly<Record<string, unknown>>;
}

/** What a watch needs of its registry. */
export interface WatchedResource {
  readonly def: KindDefinition;
  readonly keys: KeySpace;
  readonly kind: string;
  readonly apiVersion: string;
  readonly namespaced: boolean;
}

export interface PreparedWatch {
  readonly selection: Selection;
  readonly resourceVersion: number | undefined;
}

/**
 * Checks watch parameters and compiles selectors; throws before any streaming starts.
 * @throws BadRequest (selectors, resourceVersion), Invalid (option combinations).
 */
export function prepareWatch(def: KindDefinition, options: WatchOptions): PreparedWatch {
  const selection = compileSelection(def, options.labelSelector, options.fieldSelector);
  const rv = parseResourceVersion(options.resourceVersion);
  const causes: StatusCause[] = [];
  if (options.sendInitialEvents !== undefined) {
    if (options.resourceVersionMatch !== 'NotOlderThan') {
      causes.push({
        reason: 'FieldValueForbidden',
        field: 'resourceVersionMatch',
        message: 'Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan',
      });
    }
    if (options.sendInitialEvents && !options.allowWatchBookmarks) {
      causes.push({
        reason: 'FieldValueForbidden',
        field: 'allowWatchBookmarks',
        message: 'Forbidden: sendInitialEvents requires setting allowWatchBookmarks to true',
      });
    }
  } else if (options.resourceVersionMatch !== undefined) {
    causes.push({
      reason: 'FieldValueForbidden',
      field: 'resourceVersionMatch',
      message: 'Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided',
    });
  }
  if (causes.length > 0) {
    const texts = causes.map((c) => `${c.field}: ${c.message}`);
    throw invalid(
      `ListOptions.meta.k8s.io "" is invalid: ${texts.length === 1 ? texts[0] : `[${texts.join(', ')}]`}`,
      {
        details: { group: 'meta.k8s.io', kind: 'ListOptions', causes },
      },
    );
  }
  return { selection, resourceVersion: rv };
}

/**
 * Watch events of the collection in `namespace` (all when undefined). Call `prepareWatch`
 * first (it throws the 400s); this generator never throws for expected outcomes: a compacted
 * start revision yields one ERROR event (410 Expired) and ends.
 */
export async function* watchCollection(
  target: WatchedResource,
  store: KeyValueStore,
  log: Logger,
  namespace: string | undefined,
  options: WatchOptions,
): AsyncGenerator<ApiWatchEvent> {
  const { selection, resourceVersion } = prepareWatch(target.def, options);
  const prefix = collectionPrefix(target.keys, target.namespaced ? namespace : undefined);
  const bookmark = (revision: number, annotations?: Record<string, string>): ApiWatchEvent => ({
    type: 'BOOKMARK',
    object: {
      kind: target.kind,
      apiVersion: target.apiVersion,
      metadata: { resourceVersion: String(revision), ...(annotations ? { annotations } : {}) },
    },
  });
  let from: number;
  const wantsInitial =
    options.sendInitialEvents === true ||
    (options.sendInitialEvents === undefined && (resourceVersion === undefined || resourceVersion === 0));
  if (wantsInitial) {
    const page = await store.list(prefix);
    for (const kv of page.items) {
      const obj = decodeShared(kv);
      if (selection.matches(obj)) yield { type: 'ADDED', object: obj };
    }
    from = page.revision;
    if (options.sendInitialEvents === true) {
      yield bookmark(from, { 'k8s.io/initial-events-end': 'true' });
    }
  } else {
    from = resourceVersion ?? 0;
  }

  try {
    const stream = store.watch(prefix, {
      fromRevision: from,
      signal: options.signal,
      ...(options.allowWatchBookmarks ? { progressIntervalMs: options.bookmarkIntervalMs } : {}),
    });
    for await (const ev of stream) {
      if (ev.type === 'progress') {
        if (options.allowWatchBookmarks) yield bookmark(ev.revision);
        continue;
      }
      const cur = ev.type === 'put' ? decodeShared(ev.kv) : undefined;
      const prev = ev.prev ? decodeShared(ev.prev) : undefined;
      const curPasses = cur !== undefined && selection.matches(cur);
      const prevPasses = prev !== undefined && selection.matches(prev);
      if (curPasses) {
        yield { type: prevPasses ? 'MODIFIED' : 'ADDED', object: cur };
      } else if (prevPasses && prev) {
        // Gone, or no longer selected: DELETED with the previous content at the event's revision.
        yield {
          type: 'DELETED',
          object: { ...prev, metadata: { ...prev.metadata, resourceVersion: String(ev.revision) } },
        };
      }
    }
  } catch (err) {
    if (options.signal.aborted) return;
    if (isGone(err)) {
      const compacted =
        (await bestEffort(log, 'read the compacted revision', store.compactedRevision())) ?? 0;
      yield {
        type: 'ERROR',
        object: {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Failure',
          message: `too old resource version: ${from} (${compacted})`,
          reason: 'Expired',
          code: 410,
        },
      };
      return;
    }
    throw err;
  }
}
