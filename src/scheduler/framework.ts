/**
 * The scheduling framework, reduced to what h8s needs: filter plugins say why a node cannot
 * take a pod (with upstream's reason strings, so `kubectl describe` reads the same), score
 * plugins rank the nodes that can, and the failure message is upstream's
 * "0/3 nodes are available: 1 Insufficient memory, 2 node(s) had untolerated taint ...".
 */
import type { Pod, RuntimeClass } from '../api/index.js';
import type { NodeInfo, PodInfo } from './node-info.js';

/** Unschedulable: preemption may help; UnschedulableAndUnresolvable: it cannot. */
export type FailureCode = 'Unschedulable' | 'UnschedulableAndUnresolvable';

export interface FilterFailure {
  readonly code: FailureCode;
  readonly reasons: readonly string[];
}

export function unschedulable(...reasons: string[]): FilterFailure {
  return { code: 'Unschedulable', reasons };
}

export function unresolvable(...reasons: string[]): FilterFailure {
  return { code: 'UnschedulableAndUnresolvable', reasons };
}

/** What the cluster looks like for one scheduling cycle. */
export interface ClusterView {
  readonly nodes: readonly NodeInfo[];
  node(name: string): NodeInfo | undefined;
  /** Labels of a namespace (namespaceSelector of affinity terms). */
  namespaceLabels(name: string): Readonly<Record<string, string>> | undefined;
  runtimeClass(name: string): RuntimeClass | undefined;
  /** How many placed pods have required pod anti-affinity (kept by the cache). */
  readonly antiAffinityPodCount: number;
  /** Pods nominated to a node by preemption (their space is held for them). */
  nominatedPods(nodeName: string): readonly PodInfo[];
}

/** One pod's scheduling cycle; plugins keep per-cycle data in `state`. */
export interface CycleContext {
  readonly pod: Pod;
  readonly info: PodInfo;
  readonly view: ClusterView;
  readonly state: Map<string, unknown>;
}

export interface FilterPlugin {
  readonly name: string;
  /** Once per cycle before any node; a failure here fails every node alike. */
  preFilter?(ctx: CycleContext): FilterFailure | undefined;
  filter(ctx: CycleContext, node: NodeInfo): FilterFailure | undefined;
}

export interface ScorePlugin {
  readonly name: string;
  readonly weight: number;
  /** Once per cycle, with the feasible nodes, before `score`. */
  preScore?(ctx: CycleContext, nodes: readonly NodeInfo[]): void;
  /** A raw score; `normalize` (when present) maps the raw scores to 0..100. */
  score(ctx: CycleContext, node: NodeInfo): number;
  normalize?(scores: number[]): void;
}

export const maxNodeScore = 100;

/** Scales scores to 0..100 by the largest (reverse: the largest gets 0). */
export function normalizeByMax(scores: number[], reverse = false): void {
  let max = 0;
  for (const s of scores) if (s > max) max = s;
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i] ?? 0;
    const v = max === 0 ? (reverse ? maxNodeScore : 0) : Math.floor((s * maxNodeScore) / max);
    scores[i] = reverse ? maxNodeScore - v : v;
  }
}

/**
 * Upstream's FitError text: the reasons counted over nodes, as "N reason" strings sorted, so
 * the same cluster always gives the same message.
 */
export function failureMessage(nodeCount: number, failures: ReadonlyMap<string, FilterFailure>): string {
  if (nodeCount === 0) return 'no nodes available to schedule pods';
  const histogram = new Map<string, number>();
  for (const f of failures.values()) for (const r of f.reasons) histogram.set(r, (histogram.get(r) ?? 0) + 1);
  const parts = [...histogram].map(([r, n]) => `${n} ${r}`).sort();
  return `0/${nodeCount} nodes are available: ${parts.join(', ')}.`;
}
