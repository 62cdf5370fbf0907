/**
 * One scheduling decision, pure over a ClusterView: run the filters over the nodes (starting
 * where the last cycle stopped, and stopping once enough feasible nodes are found, as
 * upstream's percentageOfNodesToScore does on big clusters), score the feasible ones, and take
 * the best, ties broken at random.
 */
import type { Pod } from '../api/index.js';
import {
  type ClusterView,
  type CycleContext,
  type FilterFailure,
  type FilterPlugin,
  type ScorePlugin,
} from './framework.js';
import type { NodeInfo, PodInfo } from './node-info.js';

export interface ScheduleOutcome {
  readonly node: NodeInfo | undefined;
  /** Why each infeasible node failed (nodes not evaluated are absent). */
  readonly failures: Map<string, FilterFailure>;
  /** Nodes looked at; the next cycle starts after the last one. */
  readonly evaluated: number;
}

export interface ScheduleOptions {
  readonly filters: readonly FilterPlugin[];
  readonly scores: readonly ScorePlugin[];
  /** 0 = adaptive (upstream: 50 % minus 1 % per 125 nodes, at least 5 %), else a percentage. */
  readonly percentageOfNodesToScore: number;
  readonly random: () => number;
}

const minFeasibleNodesToFind = 100;

export function feasibleNodesToFind(total: number, percentage: number): number {
  if (total < minFeasibleNodesToFind || percentage >= 100) return total;
  let pct = percentage;
  if (pct <= 0) pct = Math.max(5, 50 - Math.floor(total / 125));
  return Math.min(total, Math.max(minFeasibleNodesToFind, Math.floor((total * pct) / 100)));
}

export function newCycle(pod: Pod, info: PodInfo, view: ClusterView): CycleContext {
  return { pod, info, view, state: new Map() };
}

/** Runs the filters of one node; undefined = feasible. */
export function filterNode(
  ctx: CycleContext,
  filters: readonly FilterPlugin[],
  node: NodeInfo,
): FilterFailure | undefined {
  for (const f of filters) {
    const r = f.filter(ctx, node);
    if (r) return r;
  }
  return undefined;
}

/** Runs every preFilter; the first failure fails the pod on every node. */
export function preFilter(ctx: CycleContext, filters: readonly FilterPlugin[]): FilterFailure | undefined {
  for (const f of filters) {
    const r = f.preFilter?.(ctx);
    if (r) return r;
  }
  return undefined;
}

export function scheduleOne(ctx: CycleContext, start: number, o: ScheduleOptions): ScheduleOutcome {
  const nodes = ctx.view.nodes;
  const failures = new Map<string, FilterFailure>();
  if (nodes.length === 0) return { node: undefined, failures, evaluated: 0 };
  const pre = preFilter(ctx, o.filters);
  if (pre) {
    for (const n of nodes) failures.set(n.name, pre);
    return { node: undefined, failures, evaluated: nodes.length };
  }
  const want = feasibleNodesToFind(nodes.length, o.percentageOfNodesToScore);
  const feasible: NodeInfo[] = [];
  let evaluated = 0;
  for (; evaluated < nodes.length && feasible.length < want; evaluated++) {
    const node = nodes[(start + evaluated) % nodes.length] as NodeInfo;
    const r = filterNode(ctx, o.filters, node);
    if (r) failures.set(node.name, r);
    else feasible.push(node);
  }
  if (feasible.length === 0) return { node: undefined, failures, evaluated };
  if (feasible.length === 1) return { node: feasible[0], failures, evaluated };
  const totals = new Array<number>(feasible.length).fill(0);
  for (const s of o.scores) {
    s.preScore?.(ctx, feasible);
    const raw = feasible.map((n) => s.score(ctx, n));
    s.normalize?.(raw);
    for (let i = 0; i < raw.length; i++) totals[i] = (totals[i] ?? 0) + (raw[i] ?? 0) * s.weight;
  }
  let best = -Infinity;
  let chosen: NodeInfo | undefined;
  let ties = 0;
  for (let i = 0; i < feasible.length; i++) {
    const t = totals[i] ?? 0;
    if (t > best) {
      best = t;
      chosen = feasible[i];
      ties = 1;
    } else if (t === best) {
      ties++;
      if (o.random() * ties < 1) chosen = feasible[i];
    }
  }
  return { node: chosen, failures, evaluated };
}
