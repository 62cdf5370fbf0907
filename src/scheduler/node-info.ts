/**
 * The scheduler's view of one node: the Node, the pods on it (bound or assumed), and running
 * totals the filters and scores read in O(1): requested resources, host ports in use, images
 * present, pod counts per controller owner (for default spreading).
 */
import type { Node, Pod } from '../api/index.js';
import { allocatableOf, podRequests, podScoringRequests, type ResourceList } from './resources.js';

export interface PodInfo {
  readonly pod: Pod;
  readonly key: string;
  readonly requests: ResourceList;
  readonly scoring: { readonly milliCpu: number; readonly memory: number };
  readonly priority: number;
  readonly hostPorts: readonly string[];
  readonly ownerUid: string | undefined;
  /** True when the pod has required pod anti-affinity (existing pods' anti-affinity check). */
  readonly hasRequiredAntiAffinity: boolean;
  readonly hasAffinityTerms: boolean;
}

export function podKey(pod: Pod): string {
  return `${pod.metadata?.namespace ?? ''}/${pod.metadata?.name ?? ''}`;
}

/** `protocol/hostIP/port` for each host port of the pod (hostIP empty = every address). */
export function hostPortsOf(pod: Pod): string[] {
  const out: string[] = [];
  const all = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
  for (const c of all)
    for (const p of c.ports ?? [])
      if (p.hostPort !== undefined && p.hostPort > 0)
        out.push(
          `${p.protocol ?? 'TCP'}/${p.hostIP && p.hostIP !== '0.0.0.0' ? p.hostIP : ''}/${p.hostPort}`,
        );
  return out;
}

export function podInfoOf(pod: Pod): PodInfo {
  const owner = pod.metadata?.ownerReferences?.find((o) => o.controller === true);
  const aff = pod.spec?.affinity;
  return {
    pod,
    key: podKey(pod),
    requests: podRequests(pod),
    scoring: podScoringRequests(pod),
    priority: pod.spec?.priority ?? 0,
    hostPorts: hostPortsOf(pod),
    ownerUid: owner?.uid,
    hasRequiredAntiAffinity:
      (aff?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.length ?? 0) > 0,
    hasAffinityTerms: aff?.podAffinity !== undefined || aff?.podAntiAffinity !== undefined,
  };
}

export class NodeInfo {
  node: Node;
  allocatable: ResourceList;
  readonly pods = new Map<string, PodInfo>();
  readonly requested: ResourceList = new Map();
  scoringMilliCpu = 0;
  scoringMemory = 0;
  readonly usedPorts = new Map<string, number>();
  readonly ownerCounts = new Map<string, number>();
  /** Image name → size in bytes, from `status.images`. */
  images = new Map<string, number>();
  /** Bumped on every change, so a snapshot can tell what moved. */
  generation = 0;

  constructor(node: Node) {
    this.node = node;
    this.allocatable = allocatableOf(node.status?.allocatable);
    this.#indexImages();
  }

  get name(): string {
    return this.node.metadata?.name ?? '';
  }

  setNode(node: Node): void {
    this.node = node;
    this.allocatable = allocatableOf(node.status?.allocatable);
    this.#indexImages();
    this.generation++;
  }

  addPod(info: PodInfo): void {
    if (this.pods.has(info.key)) this.removePod(info.key);
    this.pods.set(info.key, info);
    for (const [k, v] of info.requests) this.requested.set(k, (this.requested.get(k) ?? 0) + v);
    this.scoringMilliCpu += info.scoring.milliCpu;
    this.scoringMemory += info.scoring.memory;
    for (const p of info.hostPorts) this.usedPorts.set(p, (this.usedPorts.get(p) ?? 0) + 1);
    if (info.ownerUid) this.ownerCounts.set(info.ownerUid, (this.ownerCounts.get(info.ownerUid) ?? 0) + 1);
    this.generation++;
  }

  removePod(key: string): PodInfo | undefined {
    const info = this.pods.get(key);
    if (!info) return undefined;
    this.pods.delete(key);
    for (const [k, v] of info.requests) this.requested.set(k, (this.requested.get(k) ?? 0) - v);
    this.scoringMilliCpu -= info.scoring.milliCpu;
    this.scoringMemory -= info.scoring.memory;
    for (const p of info.hostPorts) {
      const n = (this.usedPorts.get(p) ?? 0) - 1;
      if (n > 0) this.usedPorts.set(p, n);
      else this.usedPorts.delete(p);
    }
    if (info.ownerUid) {
      const n = (this.ownerCounts.get(info.ownerUid) ?? 0) - 1;
      if (n > 0) this.ownerCounts.set(info.ownerUid, n);
      else this.ownerCounts.delete(info.ownerUid);
    }
    this.generation++;
    return info;
  }

  /** A copy whose pods can be removed without touching this one (preemption's what-if). */
  clone(): NodeInfo {
    const c = new NodeInfo(this.node);
    for (const p of this.pods.values()) c.addPod(p);
    return c;
  }

  #indexImages(): void {
    const images = new Map<string, number>();
    for (const img of this.node.status?.images ?? [])
      for (const name of img.names ?? []) images.set(name, img.sizeBytes ?? 0);
    this.images = images;
  }
}
