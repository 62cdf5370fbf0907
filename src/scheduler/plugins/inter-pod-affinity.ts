/**
 * Inter-pod affinity and anti-affinity (upstream's InterPodAffinity): required terms filter
 * by topology domain (nodes sharing the term's topologyKey value), preferred terms score.
 * Existing pods' required anti-affinity is honoured too: a pod never lands in a domain whose
 * pods refuse it. The work is done once per cycle in preFilter (one pass over the pods), so a
 * node's check is a set lookup.
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

interface RequiredState {
  /** Per required affinity term: topology values where a matching pod runs. */
  readonly affinity: { key: string; sel: PodSelector; values: Set<string> }[];
  readonly affinityMatchedAnywhere: boolean;
  readonly podMatchesOwnAffinity: boolean;
  /** topologyKey → values forbidden by the pod's own required anti-affinity. */
  readonly anti: Map<string, Set<string>>;
  /** topologyKey → values forbidden by existing pods' required anti-affinity. */
  readonly existingAnti: Map<string, Set<string>>;
}

const stateKey = 'InterPodAffinity';

function addValue(m: Map<string, Set<string>>, key: string, value: string): void {
  let s = m.get(key);
  if (!s) m.set(key, (s = new Set()));
  s.add(value);
}

function isTerminating(pod: Pod): boolean {
  return pod.metadata?.deletionTimestamp !== undefined;
}

function computeRequired(ctx: CycleContext): RequiredState {
  const pod = ctx.pod;
  const aff = pod.spec?.affinity;
  const affinity = (aff?.podAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []).map((t) => ({
    key: t.topologyKey ?? '',
    sel: podSelectorOf(t, pod),
    values: new Set<string>(),
  }));
  const antiTerms = (aff?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []).map((t) => ({
    key: t.topologyKey ?? '',
    sel: podSelectorOf(t, pod),
  }));
  const anti = new Map<string, Set<string>>();
  const existingAnti = new Map<string, Set<string>>();
  let matchedAnywhere = false;
  for (const node of ctx.view.nodes) {
    const labels = node.node.metadata?.labels ?? {};
    for (const other of node.pods.values()) {
      if (other.key === ctx.info.key || isTerminating(other.pod)) continue;
      for (const t of affinity) {
        if (!selects(t.sel, other.pod, ctx.view)) continue;
        matchedAnywhere = true;
        const v = labels[t.key];
        if (v !== undefined) t.values.add(v);
      }
      for (const t of antiTerms) {
        const v = labels[t.key];
        if (v !== undefined && selects(t.sel, other.pod, ctx.view)) addValue(anti, t.key, v);
      }
      if (other.hasRequiredAntiAffinity) {
        for (const t of other.pod.spec?.affinity?.podAntiAffinity
          ?.requiredDuringSchedulingIgnoredDuringExecution ?? []) {
          const key = t.topologyKey ?? '';
          const v = labels[key];
          if (v !== undefined && selects(podSelectorOf(t, other.pod), pod, ctx.view))
            addValue(existingAnti, key, v);
        }
      }
    }
  }
  const podMatchesOwnAffinity = affinity.every((t) => selects(t.sel, pod, ctx.view));
  return { affinity, affinityMatchedAnywhere: matchedAnywhere, podMatchesOwnAffinity, anti, existingAnti };
}

function forbidden(m: Map<string, Set<string>>, labels: Readonly<Record<string, string>>): boolean {
  for (const [key, values] of m) {
    const v = labels[key];
    if (v !== undefined && values.has(v)) return true;
  }
  return false;
}

export const interPodAffinityFilter: FilterPlugin = {
  name: 'InterPodAffinity',
  preFilter(ctx) {
    // Existing pods' anti-affinity applies to every pod, so the pass is needed whenever any
    // placed pod has some; the cache's count keeps the common case free.
    if (!ctx.info.hasAffinityTerms && ctx.view.antiAffinityPodCount === 0) return undefined;
    ctx.state.set(stateKey, computeRequired(ctx));
    return undefined;
  },
  filter(ctx, node) {
    const s = ctx.state.get(stateKey) as RequiredState | undefined;
    if (!s) return undefined;
    const labels = node.node.metadata?.labels ?? {};
    if (s.affinity.length > 0) {
      const firstOfGroup = !s.affinityMatchedAnywhere && s.podMatchesOwnAffinity;
      const ok = s.affinity.every((t) => {
        const v = labels[t.key];
        return v !== undefined && (firstOfGroup || t.values.has(v));
      });
      if (!ok) return unresolvable("node(s) didn't match pod affinity rules");
    }
    if (forbidden(s.anti, labels)) return unschedulable("node(s) didn't match pod anti-affinity rules");
    if (forbidden(s.existingAnti, labels))
      return unschedulable("node(s) didn't satisfy existing pods anti-affinity rules");
    return undefined;
  },
};

/** Preferred terms: +weight per matching pod in the node's domain (anti: -weight). */
export const interPodAffinityScore: ScorePlugin = {
  name: 'InterPodAffinity',
  weight: 2,
  preScore(ctx) {
    const aff = ctx.pod.spec?.affinity;
    const terms = [
      ...(aff?.podAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []).map((w) => ({
        w,
        sign: 1,
      })),
      ...(aff?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []).map((w) => ({
        w,
        sign: -1,
      })),
    ].filter((t) => t.w.podAffinityTerm !== undefined);
    if (terms.length === 0) return;
    const weights = new Map<string, number>(); // key\0value → weight
    const prepared = terms.map((t) => ({
      key: t.w.podAffinityTerm?.topologyKey ?? '',
      weight: (t.w.weight ?? 0) * t.sign,
      sel: podSelectorOf(t.w.podAffinityTerm ?? { topologyKey: '' }, ctx.pod),
    }));
    for (const node of ctx.view.nodes) {
      const labels = node.node.metadata?.labels ?? {};
      for (const other of node.pods.values()) {
        if (other.key === ctx.info.key) continue;
        for (const t of prepared) {
          const v = labels[t.key];
          if (v === undefined || !selects(t.sel, other.pod, ctx.view)) continue;
          const k = `${t.key}\u0000${v}`;
          weights.set(k, (weights.get(k) ?? 0) + t.weight);
        }
      }
    }
    ctx.state.set('InterPodAffinityScore', { weights, keys: [...new Set(prepared.map((p) => p.key))] });
  },
  score(ctx, node: NodeInfo) {
    const s = ctx.state.get('InterPodAffinityScore') as
      { weights: Map<string, number>; keys: string[] } | undefined;
    if (!s) return 0;
    const labels = node.node.metadata?.labels ?? {};
    let sum = 0;
    for (const key of s.keys) {
      const v = labels[key];
      if (v !== undefined) sum += s.weights.get(`${key}\u0000${v}`) ?? 0;
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
      scores[i] = max === min ? 0 : Math.floor((100 * ((scores[i] ?? 0) - min)) / (max - min));
  },
};
