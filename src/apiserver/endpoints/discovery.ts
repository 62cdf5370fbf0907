/**
 * API discovery: the legacy documents (`/api`, `/apis`, `/api/v1`, `/apis/{g}`, `/apis/{g}/{v}`)
 * that kubectl 1.20 and client-node read, and aggregated discovery (apidiscovery.k8s.io v2 and
 * v2beta1) for `/api` and `/apis` when the Accept header asks for it. Both are built once from
 * the kind definitions, including subresources, shortNames and categories.
 */
import { createHash } from 'node:crypto';
import { notFound } from '../../lib/index.js';
import type { ApiRegistry } from '../registry/api-registry.js';
import type { ResourceRegistry } from '../registry/resource-registry.js';
import { negotiateDiscovery } from './negotiation.js';
import type { RequestContext } from './request-context.js';
import type { DiscoveryRequest } from './request-info.js';
import { writeJson } from './responses.js';

interface Subresource {
  readonly name: string;
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  readonly verbs: readonly string[];
}

interface GroupVersion {
  readonly group: string;
  readonly version: string;
  readonly registries: ResourceRegistry[];
  /** Resources served without a registry (nothing stored: tokenreviews, ...). */
  readonly extras: DiscoveryResource[];
}

/** A resource served outside the generic registry, as discovery lists it. */
export interface DiscoveryResource {
  readonly group: string;
  readonly version: string;
  readonly resource: string;
  readonly singular: string;
  readonly kind: string;
  readonly namespaced: boolean;
  readonly verbs: readonly string[];
}

/** The subresources discovery lists for a resource. */
export function subresourcesOf(reg: ResourceRegistry): Subresource[] {
  const out: Subresource[] = [];
  const own = (name: string, kind: string, verbs: readonly string[]): Subresource => ({
    name,
    group: reg.group,
    version: reg.version,
    kind,
    verbs,
  });
  if (reg.def.hasStatusSubresource) out.push(own('status', reg.kind, ['get', 'patch', 'update']));
  if (reg.def.scale)
    out.push({
      name: 'scale',
      group: 'autoscaling',
      version: 'v1',
      kind: 'Scale',
      verbs: ['get', 'patch', 'update'],
    });
  if (reg.group === '' && reg.kind === 'Pod') {
    out.push(
      own('attach', 'PodAttachOptions', ['create', 'get']),
      own('binding', 'Binding', ['create']),
      { name: 'eviction', group: 'policy', version: 'v1', kind: 'Eviction', verbs: ['create'] },
      own('exec', 'PodExecOptions', ['create', 'get']),
      own('log', 'Pod', ['get']),
      own('portforward', 'PodPortForwardOptions', ['create', 'get']),
    );
  }
  if (reg.group === '' && reg.kind === 'Namespace') out.push(own('finalize', 'Namespace', ['update']));
  if (reg.group === '' && reg.kind === 'ServiceAccount') {
    out.push({
      name: 'token',
      group: 'authentication.k8s.io',
      version: 'v1',
      kind: 'TokenRequest',
      verbs: ['create'],
    });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function storageVersionHash(reg: ResourceRegistry): string {
  return createHash('sha256')
    .update(`${reg.group}/${reg.version}/${reg.kind}`)
    .digest()
    .subarray(0, 8)
    .toString('base64');
}

function legacyResources(reg: ResourceRegistry): Record<string, unknown>[] {
  const main: Record<string, unknown> = {
    name: reg.resource,
    singularName: reg.def.singular,
    namespaced: reg.namespaced,
    kind: reg.kind,
    verbs: [...reg.def.verbs],
    ...(reg.def.shortNames.length > 0 ? { shortNames: [...reg.def.shortNames] } : {}),
    ...(reg.def.categories.length > 0 ? { categories: [...reg.def.categories] } : {}),
    storageVersionHash: storageVersionHash(reg),
  };
  const subs = subresourcesOf(reg).map((s) => ({
    name: `${reg.resource}/${s.name}`,
    singularName: '',
    namespaced: reg.namespaced,
    ...(s.group !== reg.group || s.version !== reg.version ? { group: s.group, version: s.version } : {}),
    kind: s.kind,
    verbs: [...s.verbs],
  }));
  return [main, ...subs];
}

function aggregatedResource(reg: ResourceRegistry): Record<string, unknown> {
  const subs = subresourcesOf(reg).map((s) => ({
    subresource: s.name,
    responseKind: { group: s.group, version: s.version, kind: s.kind },
    verbs: [...s.verbs],
  }));
  return {
    resource: reg.resource,
    responseKind: { group: reg.group, version: reg.version, kind: reg.kind },
    scope: reg.namespaced ? 'Namespaced' : 'Cluster',
    singularResource: reg.def.singular,
    verbs: [...reg.def.verbs],
    ...(reg.def.shortNames.length > 0 ? { shortNames: [...reg.def.shortNames] } : {}),
    ...(reg.def.categories.length > 0 ? { categories: [...reg.def.categories] } : {}),
    ...(subs.length > 0 ? { subresources: subs } : {}),
  };
}

function legacyExtra(r: DiscoveryResource): Record<string, unknown> {
  return {
    name: r.resource,
    singularName: r.singular,
    namespaced: r.namespaced,
    kind: r.kind,
    verbs: [...r.verbs],
  };
}

function aggregatedExtra(r: DiscoveryResource): Record<string, unknown> {
  return {
    resource: r.resource,
    responseKind: { group: r.group, version: r.version, kind: r.kind },
    scope: r.namespaced ? 'Namespaced' : 'Cluster',
    singularResource: r.singular,
    verbs: [...r.verbs],
  };
}

export class Discovery {
  readonly #groupVersions: GroupVersion[] = [];
  readonly #aggregated = new Map<string, string>();

  constructor(registry: ApiRegistry, extras: readonly DiscoveryResource[] = []) {
    const groupVersion = (group: string, version: string): GroupVersion => {
      let gv = this.#groupVersions.find((g) => g.group === group && g.version === version);
      if (!gv) {
        gv = { group, version, registries: [], extras: [] };
        this.#groupVersions.push(gv);
      }
      return gv;
    };
    for (const reg of registry.all()) groupVersion(reg.group, reg.version).registries.push(reg);
    for (const extra of extras) groupVersion(extra.group, extra.version).extras.push(extra);
    for (const gv of this.#groupVersions) gv.registries.sort((a, b) => (a.resource < b.resource ? -1 : 1));
  }

  #groups(core: boolean): Map<string, GroupVersion[]> {
    const out = new Map<string, GroupVersion[]>();
    for (const gv of this.#groupVersions) {
      if ((gv.group === '') !== core) continue;
      out.set(gv.group, [...(out.get(gv.group) ?? []), gv]);
    }
    return out;
  }

  #aggregatedList(core: boolean, version: 'v2' | 'v2beta1'): string {
    const key = `${core}/${version}`;
    let text = this.#aggregated.get(key);
    if (text === undefined) {
      const items = [...this.#groups(core)].map(([group, versions]) => ({
        metadata: group === '' ? { creationTimestamp: null } : { name: group, creationTimestamp: null },
        versions: versions.map((gv) => ({
          version: gv.version,
          resources: [...gv.registries.map(aggregatedResource), ...gv.extras.map(aggregatedExtra)],
          freshness: 'Current',
        })),
      }));
      text = JSON.stringify({
        kind: 'APIGroupDiscoveryList',
        apiVersion: `apidiscovery.k8s.io/${version}`,
        metadata: {},
        items,
      });
      this.#aggregated.set(key, text);
    }
    return text;
  }

  #apiGroup(group: string, versions: GroupVersion[]): Record<string, unknown> {
    const vs = versions.map((v) => ({ groupVersion: `${group}/${v.version}`, version: v.version }));
    return { name: group, versions: vs, preferredVersion: vs[0] };
  }

  handle(ctx: RequestContext, info: DiscoveryRequest): void {
    const res = ctx.res;
    if (info.version === undefined && info.group === undefined) {
      const format = negotiateDiscovery(ctx.req.headers.accept);
      const core = info.prefix === 'api';
      if (format !== 'legacy') {
        const text = this.#aggregatedList(core, format);
        res.writeHead(200, {
          'Content-Type': `application/json;g=apidiscovery.k8s.io;v=${format};as=APIGroupDiscoveryList`,
          'Cache-Control': 'no-cache, private',
          Vary: 'Accept',
          'Content-Length': Buffer.byteLength(text),
        });
        res.end(text);
        return;
      }
      const headers = { Vary: 'Accept' };
      if (core) {
        const local = ctx.req.socket.localAddress ?? '127.0.0.1';
        const host = local.includes(':') ? `[${local}]` : local;
        return writeJson(
          res,
          200,
          {
            kind: 'APIVersions',
            versions: [...new Set(this.#groupVersions.filter((g) => g.group === '').map((g) => g.version))],
            serverAddressByClientCIDRs: [
              { clientCIDR: '0.0.0.0/0', serverAddress: `${host}:${ctx.req.socket.localPort ?? 0}` },
            ],
          },
          headers,
        );
      }
      const groups = [...this.#groups(false)].map(([group, versions]) => this.#apiGroup(group, versions));
      return writeJson(res, 200, { kind: 'APIGroupList', apiVersion: 'v1', groups }, headers);
    }
    if (info.prefix === 'apis' && info.version === undefined) {
      const versions = this.#groups(false).get(info.group ?? '');
      if (!versions) throw notFound('the server could not find the requested resource');
      return writeJson(res, 200, {
        kind: 'APIGroup',
        apiVersion: 'v1',
        ...this.#apiGroup(info.group ?? '', versions),
      });
    }
    const gv = this.#groupVersions.find((g) => g.group === (info.group ?? '') && g.version === info.version);
    if (!gv) throw notFound('the server could not find the requested resource');
    return writeJson(res, 200, {
      kind: 'APIResourceList',
      apiVersion: 'v1',
      groupVersion: gv.group === '' ? gv.version : `${gv.group}/${gv.version}`,
      resources: [...gv.registries.flatMap(legacyResources), ...gv.extras.map(legacyExtra)],
    });
  }
}
