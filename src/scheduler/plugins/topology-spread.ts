/**
 * Topology spread (upstream's PodTopologySpread): `DoNotSchedule` constraints filter nodes
 * whose domain would exceed maxSkew over the least loaded eligible domain, `ScheduleAnyway`
 * ones score. Pods without constraints of their own get the default spreading upstream
 * applies (by hostname, then zone) among the pods of their controller, read from the cache's
 * per-owner counts so it costs nothing per node.
 */
import type { Pod } from '../../api/index.js';
import {
  unresolvable,
  unschedulable,
  type CycleContext,
  type FilterPlugin,
  type ScorePlugin,
} from '../framework.js';
import type { NodeInfo } from '../node-info.js';
import { podSelectorOf, selects, type PodSelector } from './label-terms.js';
import { matchesNodeSelector, matchesTerm } from './node-affinity.js';
import { effectiveTaints, tolerates } from './taint-toleration.js';

export const hostnameLabel = 'kubernetes.io/hostname';
export const zoneLabel = 'topology.kubernetes.io/zone';

interface Constraint {
  readonly key: string;
  readonly maxSkew: number;
  readonly minDomains: number;
  readonly sel: PodSelector;
  readonly honorTaints: boolean;
  readonly honorAffinity: boolean;
}

interface SpreadState {
  readonly constraints: readonly Constraint[];
  /** Per constraint: domain value → matching pods. */
  readonly counts: readonly Map<string, number>[];
  readonly selfMatch: readonly number[];
  readonly minMatch: readonly number[];
}

function constraintsOf(pod: Pod, mode: 'DoNotSchedule' | 'ScheduleAnyway'): Constraint[] {
  return (pod.spec?.topologySpreadConstraints ?? [])
    .filter((c) => (c.whenUnsatisfiable ?? 'DoNotSchedule') === mode)
    .map((c) => ({
      key: c.topologyKey ?? '',
      maxSkew: c.maxSkew ?? 1,
      minDomains: c.minDomains ?? 1,
      sel: podSelectorOf({ labelSelector: c.labelSelector, matchLabelKeys: c.matchLabelKeys }, pod),
      honorTaints: c.nodeTaintsPolicy === 'Honor',
      honorAffinity: (c.nodeAffinityPolicy ?? 'Honor') === 'Honor',
    }));
}

function eligible(ctx: CycleContext, c: Constraint, node: NodeInfo): boolean {
  if (node.node.metadata?.labels?.[c.key] === undefined) return false;
  if (c.honorAffinity) {
    if (!matchesNodeSelector(ctx.pod, node.node)) return false;
    const req = ctx.pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
    if (req && !(req.nodeSelectorTerms ?? []).some((t) => matchesTerm(t, node.node))) return false;
  }
  if (c.honorTaints)
    for (const t of effectiveTaints(node.node))
      if ((t.effect === 'NoSchedule' || t.effect === 'NoExecute') && !tolerates(ctx.pod.spec?.tolerations, t))
        return false;
  return true;
}

function computeState(ctx: CycleContext, constraints: readonly Constraint[]): SpreadState {
  const counts = constraints.map(() => new Map<string, number>());
  constraints.forEach((c, i) => {
    const m = counts[i] as Map<string, number>;
    for (const node of ctx.view.nodes) {
      if (!eligible(ctx, c, node)) continue;
      const value = node.node.metadata?.labels?.[c.key] ?? '';
      let n = m.get(value) ?? 0;
      for (const other of node.pods.values()) {
        if (other.key === ctx.info.key || other.pod.metadata?.deletionTimestamp !== undefined) continue;
        if ((other.pod.metadata?.namespace ?? '') !== (ctx.pod.metadata?.namespace ?? '')) continue;
        if (selects(c.sel, other.pod, ctx.view)) n++;
      }
      m.set(value, n);
    }
  });
  const minMatch = constraints.map((c, i) => {
    const m = counts[i] as Map<string, number>;
    if (m.size < c.minDomains) return 0;
    let min = Infinity;
    for (const v of m.values()) if (v < min) min = v;
    return min === Infinity ? 0 : min;
  });
  const selfMatch = constraints.map((c) => (selects(c.sel, ctx.pod, ctx.view) ? 1 : 0));
  return { constraints, counts, selfMatch, minMatch };
}

export const topologySpreadFilter: FilterPlugin = {
  name: 'PodTopologySpread',
  preFilter(ctx) {
    const constraints = constraintsOf(ctx.pod, 'DoNotSchedule');
    if (constraints.length > 0) ctx.state.set('PodTopologySpread', computeState(ctx, constraints));
    return undefined;
  },
  filter(ctx, node) {
    const s = ctx.state.get('PodTopologySpread') as SpreadState | undefined;
    if (!s) return undefined;
    const labels = node.node.metadata?.labels ?? {};
    for (let i = 0; i < s.constraints.length; i++) {
      const c = s.constraints[i] as Constraint;
      const value = labels[c.key];
      if (value === undefined)
        return unresolvable("node(s) didn't match pod topology spread constraints (missing required label)");
      const skew = (s.counts[i]?.get(value) ?? 0) + (s.selfMatch[i] ?? 0) - (s.minMatch[i] ?? 0);
      if (skew > c.maxSkew) return unschedulable("node(s) didn't match pod topology spread constraints");
    }
    return undefined;
  },
};

interface ScoreState {
  readonly explicit: SpreadState | undefined;
  readonly owner: string | undefined;
  /** zone → pods of the owner there (default spreading). */
  readonly zoneCounts: Map<string, number>;
}

export const topologySpreadScore: ScorePlugin = {
  name: 'PodTopologySpread',
  weight: 2,
  preScore(ctx) {
    const constraints = constraintsOf(ctx.pod, 'ScheduleAnyway');
    const hasOwn = (ctx.pod.spec?.topologySpreadConstraints?.length ?? 0) > 0;
    const owner = hasOwn ? undefined : ctx.info.ownerUid;
    const zoneCounts = new Map<string, number>();
    if (owner)
      for (const n of ctx.view.nodes) {
        const z = n.node.metadata?.labels?.[zoneLabel];
        const c = n.ownerCounts.get(owner) ?? 0;
        if (z !== undefined && c > 0) zoneCounts.set(z, (zoneCounts.get(z) ?? 0) + c);
      }
    const state: ScoreState = {
      explicit: constraints.length > 0 ? computeState(ctx, constraints) : undefined,
      owner,
      zoneCounts,
    };
    ctx.state.set('PodTopologySpreadScore', state);
  },
  score(ctx, node) {
    const s = ctx.state.get('PodTopologySpreadScore') as ScoreState | undefined;
    if (!s) return 0;
    const labels = node.node.metadata?.labels ?? {};
    let sum = 0;
    if (s.explicit)
      s.explicit.constraints.forEach((c, i) => {
        const v = labels[c.key];
        const domains = s.explicit?.counts[i]?.size ?? 0;
        if (v !== undefined)
          sum += ((s.explicit?.counts[i]?.get(v) ?? 0) + c.maxSkew - 1) * Math.log(domains + 2);
      });
    if (s.owner) {
      sum += (node.ownerCounts.get(s.owner) ?? 0) * Math.log(ctx.view.nodes.length + 2);
      const z = labels[zoneLabel];
      if (z !== undefined) sum += (s.zoneCounts.get(z) ?? 0) * Math.log(s.zoneCounts.size + 2);
    }
    return sum;
  },
  normalize(scores) {
    let min = Infinity;
    let max = -Infinity;
    for (const s of scores) {
      if (s < min) min = s;
      if (s > max) max = s;
    }
    for (let i = 0; i < scores.length; i++)
      scores[i] = max === min ? 100 : Math.floor((100 * (max - (scores[i] ?? 0))) / (max - min));
  },
};
