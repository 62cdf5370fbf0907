/**
 * Preemption (upstream's DefaultPreemption, without disruption budgets yet): when a pod fits
 * nowhere, find the node where evicting pods of lower priority makes it fit, evicting as few
 * and as unimportant pods as possible. Pure: the caller deletes the victims and nominates the
 * node.
 */
import type { ClusterView, CycleContext, FilterFailure, FilterPlugin } from './framework.js';
import type { NodeInfo, PodInfo } from './node-info.js';
import { filterNode, preFilter } from './schedule-one.js';

export interface PreemptionCandidate {
  readonly node: NodeInfo;
  readonly victims: readonly PodInfo[];
}

export interface PreemptionResult {
  readonly candidate: PreemptionCandidate | undefined;
  /** Upstream's text after "preemption: " when there is no candidate. */
  readonly message: string;
}

function viewWith(view: ClusterView, replaced: NodeInfo): ClusterView {
  const nodes = view.nodes.map((n) => (n.name === replaced.name ? replaced : n));
  return {
    nodes,
    node: (name) => (name === replaced.name ? replaced : view.node(name)),
    namespaceLabels: (n) => view.namespaceLabels(n),
    runtimeClass: (n) => view.runtimeClass(n),
    antiAffinityPodCount: view.antiAffinityPodCount,
    nominatedPods: (n) => view.nominatedPods(n),
  };
}

function fits(ctx: CycleContext, filters: readonly FilterPlugin[], node: NodeInfo): boolean {
  const c: CycleContext = { pod: ctx.pod, info: ctx.info, view: viewWith(ctx.view, node), state: new Map() };
  return preFilter(c, filters) === undefined && filterNode(c, filters, node) === undefined;
}

function victimsOn(
  ctx: CycleContext,
  filters: readonly FilterPlugin[],
  node: NodeInfo,
): PodInfo[] | undefined {
  const lower = [...node.pods.values()].filter((p) => p.priority < ctx.info.priority);
  if (lower.length === 0) return undefined;
  const trial = node.clone();
  for (const p of lower) trial.removePod(p.key);
  if (!fits(ctx, filters, trial)) return undefined;
  // Reprieve the most important pods first: keep every pod that can stay.
  const byImportance = [...lower].sort((a, b) => b.priority - a.priority || startOf(a) - startOf(b));
  const victims: PodInfo[] = [];
  for (const p of byImportance) {
    trial.addPod(p);
    if (!fits(ctx, filters, trial)) {
      trial.removePod(p.key);
      victims.push(p);
    }
  }
  return victims.length > 0 ? victims : undefined;
}

function startOf(p: PodInfo): number {
  const t = p.pod.status?.startTime ?? p.pod.metadata?.creationTimestamp;
  return t ? Date.parse(t) : 0;
}

function better(a: PodInfo[], b: PodInfo[]): boolean {
  const maxA = Math.max(...a.map((p) => p.priority));
  const maxB = Math.max(...b.map((p) => p.priority));
  if (maxA !== maxB) return maxA < maxB;
  const sumA = a.reduce((s, p) => s + p.priority, 0);
  const sumB = b.reduce((s, p) => s + p.priority, 0);
  if (sumA !== sumB) return sumA < sumB;
  return a.length < b.length;
}

export function findPreemption(
  ctx: CycleContext,
  failures: ReadonlyMap<string, FilterFailure>,
  filters: readonly FilterPlugin[],
): PreemptionResult {
  if (ctx.pod.spec?.preemptionPolicy === 'Never')
    return { candidate: undefined, message: 'not eligible due to preemptionPolicy=Never.' };
  const nominated = ctx.pod.status?.nominatedNodeName;
  if (nominated) {
    const n = ctx.view.node(nominated);
    if (
      n &&
      [...n.pods.values()].some((p) => p.priority < ctx.info.priority && p.pod.metadata?.deletionTimestamp)
    )
      return {
        candidate: undefined,
        message: 'not eligible due to a terminating pod on the nominated node.',
      };
  }
  let best: PreemptionCandidate | undefined;
  let notHelpful = 0;
  let noVictims = 0;
  for (const node of ctx.view.nodes) {
    const f = failures.get(node.name);
    if (!f || f.code === 'UnschedulableAndUnresolvable') {
      notHelpful++;
      continue;
    }
    const victims = victimsOn(ctx, filters, node);
    if (!victims) {
      noVictims++;
      continue;
    }
    if (!best || better(victims, [...best.victims])) best = { node, victims };
  }
  if (best) return { candidate: best, message: '' };
  const parts: string[] = [];
  if (noVictims > 0) parts.push(`${noVictims} No preemption victims found for incoming pod`);
  if (notHelpful > 0) parts.push(`${notHelpful} Preemption is not helpful for scheduling`);
  return {
    candidate: undefined,
    message: `0/${ctx.view.nodes.length} nodes are available: ${parts.sort().join(', ')}.`,
  };
}
