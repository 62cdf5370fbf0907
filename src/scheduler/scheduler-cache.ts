/**
 * The scheduler's cache (upstream's cache plus its snapshot, in one since decisions are made
 * one at a time on one thread): nodes with their pods, pods the scheduler has assumed onto a
 * node before the binding lands, pods nominated by preemption, namespace labels and runtime
 * classes. It implements ClusterView, so plugins read it directly.
 */
import type { Node, Pod, RuntimeClass } from '../api/index.js';
import type { ClusterView } from './framework.js';
import { NodeInfo, podInfoOf, podKey, type PodInfo } from './node-info.js';

function isTerminal(pod: Pod): boolean {
  return pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
}

export class SchedulerCache implements ClusterView {
  readonly #nodes = new Map<string, NodeInfo>();
  #nodeList: NodeInfo[] = [];
  /** pod key → the node it is on (bound or assumed). */
  readonly #podNode = new Map<string, string>();
  /** Pods on nodes the cache has not seen yet. */
  readonly #orphans = new Map<string, Map<string, PodInfo>>();
  readonly #assumed = new Set<string>();
  readonly #nominated = new Map<string, Map<string, PodInfo>>();
  readonly #nominatedNode = new Map<string, string>();
  readonly #namespaces = new Map<string, Readonly<Record<string, string>>>();
  readonly #runtimeClasses = new Map<string, RuntimeClass>();
  #antiAffinityPods = 0;
  readonly #priorityOf: (pod: Pod) => number;

  constructor(priorityOf: (pod: Pod) => number = (p) => p.spec?.priority ?? 0) {
    this.#priorityOf = priorityOf;
  }

  get nodes(): readonly NodeInfo[] {
    return this.#nodeList;
  }

  get antiAffinityPodCount(): number {
    return this.#antiAffinityPods;
  }

  node(name: string): NodeInfo | undefined {
    return this.#nodes.get(name);
  }

  namespaceLabels(name: string): Readonly<Record<string, string>> | undefined {
    return this.#namespaces.get(name);
  }

  runtimeClass(name: string): RuntimeClass | undefined {
    return this.#runtimeClasses.get(name);
  }

  nominatedPods(nodeName: string): readonly PodInfo[] {
    const m = this.#nominated.get(nodeName);
    return m ? [...m.values()] : [];
  }

  infoOf(pod: Pod): PodInfo {
    const info = podInfoOf(pod);
    const priority = this.#priorityOf(pod);
    return priority === info.priority ? info : { ...info, priority };
  }

  setNamespace(name: string, labels: Readonly<Record<string, string>> | undefined): void {
    if (labels === undefined) this.#namespaces.delete(name);
    else this.#namespaces.set(name, labels);
  }

  setRuntimeClass(name: string, rc: RuntimeClass | undefined): void {
    if (rc === undefined) this.#runtimeClasses.delete(name);
    else this.#runtimeClasses.set(name, rc);
  }

  /** Adds or updates a node; returns true when that can make pending pods fit. */
  upsertNode(node: Node): boolean {
    const name = node.metadata?.name ?? '';
    const existing = this.#nodes.get(name);
    if (existing) {
      const before = existing.node;
      existing.setNode(node);
      return schedulingRelevantChange(before, node);
    }
    const info = new NodeInfo(node);
    for (const p of this.#orphans.get(name)?.values() ?? []) info.addPod(p);
    this.#orphans.delete(name);
    this.#nodes.set(name, info);
    this.#nodeList = [...this.#nodes.values()];
    return true;
  }

  removeNode(name: string): void {
    const info = this.#nodes.get(name);
    if (!info) return;
    this.#nodes.delete(name);
    this.#nodeList = [...this.#nodes.values()];
    if (info.pods.size > 0) this.#orphans.set(name, new Map(info.pods));
  }

  /** A pod from the informer: placed when it has a node and is not finished, else removed. */
  upsertPod(pod: Pod): void {
    const key = podKey(pod);
    const nodeName = pod.spec?.nodeName;
    if (!nodeName || isTerminal(pod)) {
      if (!this.#assumed.has(key) || isTerminal(pod)) this.removePod(key);
      return;
    }
    this.#assumed.delete(key);
    this.#place(this.infoOf(pod), nodeName);
    this.nominate(key, undefined);
  }

  removePod(key: string): void {
    const nodeName = this.#podNode.get(key);
    this.#assumed.delete(key);
    this.nominate(key, undefined);
    if (nodeName === undefined) return;
    this.#podNode.delete(key);
    const removed = this.#nodes.get(nodeName)?.removePod(key) ?? this.#removeOrphan(nodeName, key);
    if (removed?.hasRequiredAntiAffinity) this.#antiAffinityPods--;
  }

  /** Places a pod on a node before its binding is written (upstream's AssumePod). */
  assume(info: PodInfo, nodeName: string): void {
    this.#assumed.add(info.key);
    this.#place(info, nodeName);
    this.nominate(info.key, undefined);
  }

  /** Undoes `assume` after a failed binding. */
  forget(key: string): void {
    if (this.#assumed.has(key)) this.removePod(key);
  }

  isAssumed(key: string): boolean {
    return this.#assumed.has(key);
  }

  /** Holds (or with undefined releases) room for a preemptor on a node. */
  nominate(key: string, nodeName: string | undefined, info?: PodInfo): void {
    const was = this.#nominatedNode.get(key);
    if (was !== undefined) {
      this.#nominated.get(was)?.delete(key);
      this.#nominatedNode.delete(key);
    }
    if (nodeName === undefined || info === undefined) return;
    let m = this.#nominated.get(nodeName);
    if (!m) this.#nominated.set(nodeName, (m = new Map()));
    m.set(key, info);
    this.#nominatedNode.set(key, nodeName);
  }

  #place(info: PodInfo, nodeName: string): void {
    const was = this.#podNode.get(info.key);
    if (was !== undefined) {
      const old = this.#nodes.get(was)?.removePod(info.key) ?? this.#removeOrphan(was, info.key);
      if (old?.hasRequiredAntiAffinity) this.#antiAffinityPods--;
    }
    this.#podNode.set(info.key, nodeName);
    if (info.hasRequiredAntiAffinity) this.#antiAffinityPods++;
    const node = this.#nodes.get(nodeName);
    if (node) node.addPod(info);
    else {
      let m = this.#orphans.get(nodeName);
      if (!m) this.#orphans.set(nodeName, (m = new Map()));
      m.set(info.key, info);
    }
  }

  #removeOrphan(nodeName: string, key: string): PodInfo | undefined {
    const m = this.#orphans.get(nodeName);
    const info = m?.get(key);
    m?.delete(key);
    if (m?.size === 0) this.#orphans.delete(nodeName);
    return info;
  }
}

/** Whether a node change can let a pending pod fit (upstream's node update events). */
function schedulingRelevantChange(a: Node, b: Node): boolean {
  const j = (x: unknown): string => JSON.stringify(x ?? null);
  const ready = (n: Node): string | undefined =>
    n.status?.conditions?.find((c) => c.type === 'Ready')?.status;
  return (
    j(a.status?.allocatable) !== j(b.status?.allocatable) ||
    j(a.metadata?.labels) !== j(b.metadata?.labels) ||
    j(a.spec?.taints) !== j(b.spec?.taints) ||
    (a.spec?.unschedulable ?? false) !== (b.spec?.unschedulable ?? false) ||
    ready(a) !== ready(b) ||
    j(a.status?.runtimeHandlers) !== j(b.status?.runtimeHandlers)
  );
}
