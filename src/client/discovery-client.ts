/**
 * Discovery (`/api`, `/apis`, `/api/v1`, `/apis/{group}/{version}`) with a cache, and the
 * kind → resource mapping built on it (what client-go calls a RESTMapper).
 *
 * One group-version that fails to answer does not fail the whole discovery: its error is in
 * `failures`, so callers that must see everything (namespace deletion) can refuse to finish.
 */
import {
  notFound,
  describeError,
  findH8sError,
  internal,
  isRecord,
  systemClock,
  type Clock,
  type H8sError,
} from '../lib/index.js';
import type { HttpTransport } from './http-transport.js';
import { apiVersionOf, groupVersionPath, parseApiVersion, type ResourceRef } from './resource-ref.js';
import type { CallOptions } from './wire-types.js';

/** A served resource as discovery describes it. */
export interface ApiResource extends ResourceRef {
  readonly kind: string;
  readonly singularName: string;
  readonly verbs: readonly string[];
  readonly shortNames: readonly string[];
  readonly categories: readonly string[];
  /** e.g. `status`, `scale`, `finalize`. */
  readonly subresources: readonly string[];
  /** Whether this version is the group's preferred one. */
  readonly isPreferredVersion: boolean;
}

export interface DiscoveryFailure {
  readonly groupVersion: string;
  readonly error: H8sError;
}

export interface DiscoveryResult {
  readonly resources: readonly ApiResource[];
  /** Group-versions whose resource list could not be read. */
  readonly failures: readonly DiscoveryFailure[];
}

export interface DiscoveryClient {
  /**
   * Every resource of every served group-version (subresources folded into their resource).
   * Answers from the cache while it is younger than the TTL unless `refresh` is set.
   * @throws ServiceUnavailable and friends when `/api` or `/apis` cannot be read.
   */
  listServerResources(options?: CallOptions & { readonly refresh?: boolean }): Promise<DiscoveryResult>;
  /**
   * The resource serving `kind` in `apiVersion` (e.g. `apps/v1`, `Deployment`); refreshes the
   * cache once on a miss. Undefined when the server does not serve it.
   */
  findResourceFor(apiVersion: string, kind: string, options?: CallOptions): Promise<ApiResource | undefined>;
  /** As `findResourceFor`. @throws NotFound when the server does not serve the kind. */
  getResourceFor(apiVersion: string, kind: string, options?: CallOptions): Promise<ApiResource>;
  /** Drops the cache; the next call reads discovery again. */
  invalidate(): void;
}

export interface DiscoveryClientOptions {
  readonly transport: HttpTransport;
  readonly clock?: Clock | undefined;
  /** How long answers are cached; default 60 s. */
  readonly ttlMs?: number | undefined;
  /** A cache miss in `findResourceFor` refreshes at most this often; default 1 s. */
  readonly minRefreshIntervalMs?: number | undefined;
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

interface GroupVersionEntry {
  readonly group: string;
  readonly version: string;
  readonly isPreferred: boolean;
}

/** Parses an `APIResourceList` into resources (pure; exported for tests). */
export function parseResourceList(body: unknown, gv: GroupVersionEntry): ApiResource[] {
  if (!isRecord(body) || !Array.isArray(body['resources'])) {
    throw internal(`Discovery for "${apiVersionOf(gv)}" did not answer an APIResourceList`);
  }
  const main = new Map<string, Record<string, unknown>>();
  const subs = new Map<string, string[]>();
  for (const r of body['resources']) {
    if (!isRecord(r) || typeof r['name'] !== 'string') continue;
    const name = r['name'];
    const slash = name.indexOf('/');
    if (slash >= 0) {
      const parent = name.slice(0, slash);
      subs.set(parent, [...(subs.get(parent) ?? []), name.slice(slash + 1)]);
    } else {
      main.set(name, r);
    }
  }
  const out: ApiResource[] = [];
  for (const [plural, r] of main) {
    out.push(
      Object.freeze({
        group: gv.group,
        version: gv.version,
        plural,
        namespaced: r['namespaced'] === true,
        kind: typeof r['kind'] === 'string' ? r['kind'] : '',
        singularName: typeof r['singularName'] === 'string' ? r['singularName'] : '',
        verbs: Object.freeze(strings(r['verbs'])),
        shortNames: Object.freeze(strings(r['shortNames'])),
        categories: Object.freeze(strings(r['categories'])),
        subresources: Object.freeze(subs.get(plural) ?? []),
        isPreferredVersion: gv.isPreferred,
      }),
    );
  }
  return out;
}

/** Reads `/api` and `/apis` into the list of group-versions to ask (pure; exported for tests). */
export function parseGroupVersions(apiBody: unknown, apisBody: unknown): GroupVersionEntry[] {
  const out: GroupVersionEntry[] = [];
  if (isRecord(apiBody)) {
    const versions = strings(apiBody['versions']);
    versions.forEach((version, i) => out.push({ group: '', version, isPreferred: i === 0 }));
  }
  if (isRecord(apisBody) && Array.isArray(apisBody['groups'])) {
    for (const g of apisBody['groups']) {
      if (!isRecord(g) || typeof g['name'] !== 'string') continue;
      const preferred = isRecord(g['preferredVersion']) ? g['preferredVersion']['version'] : undefined;
      const versions = Array.isArray(g['versions']) ? g['versions'] : [];
      versions.forEach((v, i) => {
        if (!isRecord(v) || typeof v['version'] !== 'string') return;
        out.push({
          group: g['name'] as string,
          version: v['version'],
          isPreferred: preferred !== undefined ? v['version'] === preferred : i === 0,
        });
      });
    }
  }
  return out;
}

export function createDiscoveryClient(options: DiscoveryClientOptions): DiscoveryClient {
  const clock = options.clock ?? systemClock;
  const ttlMs = options.ttlMs ?? 60_000;
  const minRefreshMs = options.minRefreshIntervalMs ?? 1_000;
  let cached: { result: DiscoveryResult; atMs: number } | undefined;
  let inflight: Promise<DiscoveryResult> | undefined;

  async function fetchAll(callOptions: CallOptions): Promise<DiscoveryResult> {
    const req = { method: 'GET' as const, signal: callOptions.signal, timeoutMs: callOptions.timeoutMs };
    const [api, apis] = await Promise.all([
      options.transport.request({ ...req, path: '/api' }),
      options.transport.request({ ...req, path: '/apis' }),
    ]);
    const gvs = parseGroupVersions(api.body, apis.body);
    const settled = await Promise.allSettled(
      gvs.map(async (gv) => {
        const res = await options.transport.request({ ...req, path: groupVersionPath(gv) });
        return parseResourceList(res.body, gv);
      }),
    );
    const resources: ApiResource[] = [];
    const failures: DiscoveryFailure[] = [];
    settled.forEach((s, i) => {
      const gv = gvs[i] as GroupVersionEntry;
      if (s.status === 'fulfilled') resources.push(...s.value);
      else {
        const error =
          findH8sError(s.reason) ??
          internal(`Discovery of "${apiVersionOf(gv)}" failed: ${describeError(s.reason)}`, {
            cause: s.reason,
          });
        failures.push({ groupVersion: apiVersionOf(gv), error });
      }
    });
    return { resources: Object.freeze(resources), failures: Object.freeze(failures) };
  }

  async function load(callOptions: CallOptions, refresh: boolean): Promise<DiscoveryResult> {
    if (!refresh && cached && clock.monotonicMs() - cached.atMs < ttlMs) return cached.result;
    if (!inflight) {
      const p = fetchAll(callOptions).then((result) => {
        cached = { result, atMs: clock.monotonicMs() };
        return result;
      });
      inflight = p;
      void p.then(
        () => {
          if (inflight === p) inflight = undefined;
        },
        () => {
          if (inflight === p) inflight = undefined;
        },
      );
    }
    return inflight;
  }

  function lookup(result: DiscoveryResult, apiVersion: string, kind: string): ApiResource | undefined {
    const { group, version } = parseApiVersion(apiVersion);
    return result.resources.find((r) => r.group === group && r.version === version && r.kind === kind);
  }

  const client: DiscoveryClient = {
    listServerResources: (o = {}) => load(o, o.refresh === true),
    async findResourceFor(apiVersion, kind, o = {}) {
      const first = await load(o, false);
      const hit = lookup(first, apiVersion, kind);
      if (hit) return hit;
      // A kind may have been added since we last looked; refresh, but not on every miss.
      if (cached && clock.monotonicMs() - cached.atMs < minRefreshMs) return undefined;
      return lookup(await load(o, true), apiVersion, kind);
    },
    async getResourceFor(apiVersion, kind, o = {}) {
      const r = await client.findResourceFor(apiVersion, kind, o);
      if (!r) throw notFound(`The server does not serve kind "${kind}" in "${apiVersion}"`);
      return r;
    },
    invalidate() {
      cached = undefined;
    },
  };
  return client;
}
