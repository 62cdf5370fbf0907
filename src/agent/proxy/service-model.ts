/**
 * What the node's service proxy must program (kube-proxy's service and endpoint change
 * trackers, reduced to a pure function): for each Service with a cluster IP, each port with
 * the endpoints traffic may go to, by kube-proxy's rules:
 *
 * - ready endpoints; when none is ready, the serving ones that are terminating (graceful
 *   termination, KEP-1669), so connections drain instead of failing;
 * - `internalTrafficPolicy: Local` keeps only this node's endpoints for cluster traffic, and
 *   `externalTrafficPolicy: Local` the same for NodePort/external traffic;
 * - a port's endpoints come from the EndpointSlice ports of the same name and protocol.
 */
import type { Service } from '../../api/index.js';

export interface ProxyEndpoint {
  readonly ip: string;
  readonly port: number;
  readonly nodeName: string | undefined;
  readonly isLocal: boolean;
}

export interface ProxyPort {
  readonly name: string;
  readonly protocol: 'TCP' | 'UDP' | 'SCTP';
  readonly port: number;
  readonly nodePort: number | undefined;
  /** For traffic to the cluster IP. */
  readonly clusterEndpoints: readonly ProxyEndpoint[];
  /** For traffic to a node port or an external IP. */
  readonly externalEndpoints: readonly ProxyEndpoint[];
}

export interface ProxyService {
  readonly namespace: string;
  readonly name: string;
  readonly clusterIPs: readonly string[];
  readonly externalIPs: readonly string[];
  readonly type: string;
  /** ClientIP affinity timeout, when `sessionAffinity: ClientIP`. */
  readonly affinitySeconds: number | undefined;
  readonly ports: readonly ProxyPort[];
}

export interface SliceEndpoint {
  readonly addresses?: readonly string[];
  readonly conditions?: {
    readonly ready?: boolean;
    readonly serving?: boolean;
    readonly terminating?: boolean;
  };
  readonly nodeName?: string;
}

export interface Slice {
  readonly metadata?: { readonly namespace?: string; readonly labels?: Readonly<Record<string, string>> };
  readonly addressType?: string;
  readonly endpoints?: readonly SliceEndpoint[];
  readonly ports?: readonly { readonly name?: string; readonly port?: number; readonly protocol?: string }[];
}

function protocolOf(p: string | undefined): 'TCP' | 'UDP' | 'SCTP' {
  return p === 'UDP' || p === 'SCTP' ? p : 'TCP';
}

/** The endpoints traffic may use: ready ones, else serving terminating ones. */
export function usableEndpoints<T extends { ready: boolean; serving: boolean; terminating: boolean }>(
  all: readonly T[],
): T[] {
  const ready = all.filter((e) => e.ready);
  if (ready.length > 0) return ready;
  return all.filter((e) => e.serving && e.terminating);
}

export function proxyModel(
  services: readonly Service[],
  slices: readonly Slice[],
  nodeName: string,
): ProxyService[] {
  const byService = new Map<string, Slice[]>();
  for (const s of slices) {
    const svc = s.metadata?.labels?.['kubernetes.io/service-name'];
    if (!svc) continue;
    const key = `${s.metadata?.namespace ?? ''}/${svc}`;
    let list = byService.get(key);
    if (!list) byService.set(key, (list = []));
    list.push(s);
  }
  const out: ProxyService[] = [];
  for (const svc of services) {
    const spec = svc.spec ?? {};
    const clusterIPs = (spec.clusterIPs ?? (spec.clusterIP ? [spec.clusterIP] : [])).filter(
      (ip) => ip && ip !== 'None',
    );
    if (clusterIPs.length === 0 || spec.type === 'ExternalName') continue;
    const ns = svc.metadata?.namespace ?? '';
    const name = svc.metadata?.name ?? '';
    const svcSlices = byService.get(`${ns}/${name}`) ?? [];
    const ports: ProxyPort[] = [];
    for (const sp of spec.ports ?? []) {
      const protocol = protocolOf(sp.protocol);
      const candidates: (ProxyEndpoint & { ready: boolean; serving: boolean; terminating: boolean })[] = [];
      const seen = new Set<string>();
      for (const sl of svcSlices) {
        if (sl.addressType && sl.addressType !== 'IPv4' && sl.addressType !== 'IPv6') continue;
        const slicePort = (sl.ports ?? []).find(
          (p) => (p.name ?? '') === (sp.name ?? '') && protocolOf(p.protocol) === protocol,
        );
        if (!slicePort?.port) continue;
        for (const e of sl.endpoints ?? []) {
          const ip = e.addresses?.[0];
          if (!ip) continue;
          const key = `${ip}:${slicePort.port}`;
          if (seen.has(key)) continue;
          seen.add(key);
          const c = e.conditions ?? {};
          const ready = c.ready ?? true;
          candidates.push({
            ip,
            port: slicePort.port,
            nodeName: e.nodeName,
            isLocal: e.nodeName === nodeName,
            ready,
            serving: c.serving ?? ready,
            terminating: c.terminating ?? false,
          });
        }
      }
      candidates.sort((a, b) => a.ip.localeCompare(b.ip) || a.port - b.port);
      const strip = (e: (typeof candidates)[number]): ProxyEndpoint => ({
        ip: e.ip,
        port: e.port,
        nodeName: e.nodeName,
        isLocal: e.isLocal,
      });
      const usable = usableEndpoints(candidates);
      const local = usableEndpoints(candidates.filter((e) => e.isLocal));
      ports.push({
        name: sp.name ?? '',
        protocol,
        port: sp.port ?? 0,
        nodePort: spec.type === 'NodePort' || spec.type === 'LoadBalancer' ? sp.nodePort : undefined,
        clusterEndpoints: (spec.internalTrafficPolicy === 'Local' ? local : usable).map(strip),
        externalEndpoints: (spec.externalTrafficPolicy === 'Local' ? local : usable).map(strip),
      });
    }
    out.push({
      namespace: ns,
      name,
      clusterIPs,
      externalIPs: spec.externalIPs ?? [],
      type: spec.type ?? 'ClusterIP',
      affinitySeconds:
        spec.sessionAffinity === 'ClientIP'
          ? (spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? 10_800)
          : undefined,
      ports,
    });
  }
  return out.sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
}
