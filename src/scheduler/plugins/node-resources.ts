/**
 * Resources (upstream's NodeResourcesFit and NodeResourcesBalancedAllocation): a pod fits when
 * every resource it requests is free in the node's allocatable and the node's pod count
 * allows one more; pods nominated to the node by preemption hold their share. Scores prefer
 * the least allocated node and the one whose cpu and memory stay balanced.
 */
import {
  maxNodeScore,
  unschedulable,
  type CycleContext,
  type FilterPlugin,
  type ScorePlugin,
} from '../framework.js';
import type { NodeInfo } from '../node-info.js';

function nominatedRequests(ctx: CycleContext, node: NodeInfo): Map<string, number> | undefined {
  const nominated = ctx.view
    .nominatedPods(node.name)
    .filter((p) => p.key !== ctx.info.key && p.priority >= ctx.info.priority && !node.pods.has(p.key));
  if (nominated.length === 0) return undefined;
  const out = new Map<string, number>([['pods', nominated.length]]);
  for (const p of nominated) for (const [k, v] of p.requests) out.set(k, (out.get(k) ?? 0) + v);
  return out;
}

/** The names of the resources the pod does not fit in, upstream's reason strings. */
export function insufficientResources(ctx: CycleContext, node: NodeInfo): string[] {
  const reasons: string[] = [];
  const held = nominatedRequests(ctx, node);
  const maxPods = node.allocatable.get('pods') ?? 110;
  if (node.pods.size + (held?.get('pods') ?? 0) + 1 > maxPods) reasons.push('Too many pods');
  for (const [name, want] of ctx.info.requests) {
    if (want <= 0) continue;
    const free = (node.allocatable.get(name) ?? 0) - (node.requested.get(name) ?? 0) - (held?.get(name) ?? 0);
    if (want > free) reasons.push(`Insufficient ${name}`);
  }
  return reasons;
}

export const nodeResourcesFitFilter: FilterPlugin = {
  name: 'NodeResourcesFit',
  filter(ctx, node) {
    const reasons = insufficientResources(ctx, node);
    return reasons.length > 0 ? unschedulable(...reasons) : undefined;
  },
};

function fractions(ctx: CycleContext, node: NodeInfo): [number, number] {
  const cpuAlloc = node.allocatable.get('cpu') ?? 0;
  const memAlloc = node.allocatable.get('memory') ?? 0;
  const cpu = cpuAlloc > 0 ? Math.min(1, (node.scoringMilliCpu + ctx.info.scoring.milliCpu) / cpuAlloc) : 1;
  const mem = memAlloc > 0 ? Math.min(1, (node.scoringMemory + ctx.info.scoring.memory) / memAlloc) : 1;
  return [cpu, mem];
}

export const leastAllocatedScore: ScorePlugin = {
  name: 'NodeResourcesFit',
  weight: 1,
  score(ctx, node) {
    const [cpu, mem] = fractions(ctx, node);
    return Math.floor(((1 - cpu + (1 - mem)) / 2) * maxNodeScore);
  },
};

export const balancedAllocationScore: ScorePlugin = {
  name: 'NodeResourcesBalancedAllocation',
  weight: 1,
  score(ctx, node) {
    const [cpu, mem] = fractions(ctx, node);
    // The standard deviation of two fractions is half their distance.
    return Math.floor((1 - Math.abs(cpu - mem) / 2) * maxNodeScore);
  },
};
