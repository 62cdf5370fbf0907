/**
 * The watch endpoint: `200`, `Content-Type: application/json`, chunked, one JSON event per
 * line (`{"type":"ADDED","object":{...}}\n`), as client-go and client-node read it. Events in
 * Table form for `kubectl get -w` (column definitions only in the first event, as upstream).
 *
 * The stream ends cleanly after `timeoutSeconds` (or a random 30-60 minutes, as upstream), when
 * the client goes away, or after an ERROR event (410 Expired for a compacted revision).
 * A client that cannot keep up is cut off by the store's bounded watch queue rather than
 * buffered without bound.
 */
import type { ServerResponse } from 'node:http';
import type { KubeObject } from '../../api/index.js';
import { describeError, type Clock } from '../../lib/index.js';
import type { ApiWatchEvent, ResourceRegistry } from '../registry/resource-registry.js';
import type { ObjectFormat } from './negotiation.js';
import type { RequestContext } from './request-context.js';
import type { WatchQuery } from './query-options.js';
import { statusForError } from './status.js';
import { partialObjectMetadata, tableOf, type IncludeObject } from './table-convertor.js';

export interface WatchDeps {
  readonly clock: Clock;
  readonly bookmarkIntervalMs: number;
}

/** JSON of shared (read-only) event objects, computed once for all watchers. */
const encoded = new WeakMap<object, string>();

function objectJson(obj: object): string {
  let s = encoded.get(obj);
  if (s === undefined) {
    s = JSON.stringify(obj);
    encoded.set(obj, s);
  }
  return s;
}

/** Resolves when the response drains, closes, or the watch is aborted (listeners removed). */
function waitForDrain(res: ServerResponse, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
    signal.addEventListener('abort', done, { once: true });
  });
}

function defaultTimeoutMs(): number {
  // Upstream spreads watch lifetimes over [minRequestTimeout, 2*minRequestTimeout) (30 min).
  return (1800 + Math.floor(Math.random() * 1800)) * 1000;
}

export async function serveWatch(
  ctx: RequestContext,
  reg: ResourceRegistry,
  namespace: string | undefined,
  query: WatchQuery,
  format: ObjectFormat,
  includeObject: IncludeObject,
  deps: WatchDeps,
): Promise<void> {
  const abort = new AbortController();
  const onClientGone = (): void => abort.abort();
  ctx.signal.addEventListener('abort', onClientGone, { once: true });
  const timeoutMs =
    query.timeoutSeconds !== undefined && query.timeoutSeconds > 0
      ? query.timeoutSeconds * 1000
      : defaultTimeoutMs();
  const options = {
    ...(query.labelSelector !== undefined ? { labelSelector: query.labelSelector } : {}),
    ...(query.fieldSelector !== undefined ? { fieldSelector: query.fieldSelector } : {}),
    ...(query.resourceVersion !== undefined ? { resourceVersion: query.resourceVersion } : {}),
    ...(query.resourceVersionMatch !== undefined ? { resourceVersionMatch: query.resourceVersionMatch } : {}),
    ...(query.sendInitialEvents !== undefined ? { sendInitialEvents: query.sendInitialEvents } : {}),
    allowWatchBookmarks: query.allowWatchBookmarks,
    bookmarkIntervalMs: deps.bookmarkIntervalMs,
    signal: abort.signal,
  };
  // Parameter errors are plain 4xx responses, before the stream starts.
  reg.prepareWatch(options);

  const res = ctx.res;
  res.writeHead(200, {
    'Content-Type': 'application/json',
    'Cache-Control': 'no-cache, private',
    'Transfer-Encoding': 'chunked',
  });
  res.flushHeaders();
  const timer = deps.clock.setTimeout(() => abort.abort(), timeoutMs);
  let first = true;
  let events = 0;

  const encode = (ev: ApiWatchEvent): string => {
    if (ev.type === 'ERROR' || ev.type === 'BOOKMARK') {
      return `{"type":"${ev.type}","object":${objectJson(ev.object)}}\n`;
    }
    const obj = ev.object as Readonly<KubeObject>;
    switch (format.kind) {
      case 'table': {
        const table = tableOf(
          reg,
          [obj],
          obj.metadata.resourceVersion ? { resourceVersion: obj.metadata.resourceVersion } : {},
          {
            version: format.version,
            includeObject,
            nowMs: deps.clock.now(),
            withColumns: first,
          },
        );
        first = false;
        return `{"type":"${ev.type}","object":${JSON.stringify(table)}}\n`;
      }
      case 'partial':
        return `{"type":"${ev.type}","object":${JSON.stringify(partialObjectMetadata(obj, format.version))}}\n`;
      default:
        return `{"type":"${ev.type}","object":${objectJson(obj)}}\n`;
    }
  };

  try {
    for await (const ev of reg.watch(namespace, options)) {
      events++;
      const ok = res.write(encode(ev));
      if (ev.type === 'ERROR') break;
      if (!ok) {
        await waitForDrain(res, abort.signal);
        if (abort.signal.aborted) break;
      }
    }
  } catch (err) {
    if (!abort.signal.aborted && !res.destroyed) {
      const { body } = statusForError(err, ctx.requestId);
      ctx.logFields['watchError'] = describeError(err);
      res.write(`{"type":"ERROR","object":${JSON.stringify(body)}}\n`);
    }
  } finally {
    timer.cancel();
    ctx.signal.removeEventListener('abort', onClientGone);
    abort.abort();
    ctx.logFields['events'] = events;
    if (!res.destroyed) res.end();
  }
}
