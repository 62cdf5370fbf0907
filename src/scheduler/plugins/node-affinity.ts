/**
 * nodeSelector and node affinity (upstream's NodeAffinity plugin): required terms filter
 * (terms are ORed, expressions within one term ANDed; `matchFields` sees `metadata.name`),
 * preferred terms add their weights to the score.
 */
import type { Node, NodeSelectorTerm } from '../../api/index.js';
import { normalizeByMax, unresolvable, type FilterPlugin, type ScorePlugin } from '../framework.js';

interface Requirement {
  readonly key?: string | undefined;
  readonly operator?: string | undefined;
  readonly values?: readonly string[] | undefined;
}

function matchesRequirement(r: Requirement, labels: Readonly<Record<string, string>>): boolean {
  const key = r.key ?? '';
  const has = Object.prototype.hasOwnProperty.call(labels, key);
  const value = labels[key];
  const values = r.values ?? [];
  switch (r.operator) {
    case 'In':
      return has && values.includes(value ?? '');
    case 'NotIn':
      return !has || !values.includes(value ?? '');
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
    case 'Gt':
    case 'Lt': {
      if (!has || !/^-?\d+$/.test(value ?? '') || values.length !== 1 || !/^-?\d+$/.test(values[0] ?? ''))
        return false;
      const n = Number(value);
      const bound = Number(values[0]);
      return r.operator === 'Gt' ? n > bound : n < bound;
    }
    default:
      return false;
  }
}

/** Whether one node selector term matches the node (an empty term matches nothing). */
export function matchesTerm(term: NodeSelectorTerm, node: Node): boolean {
  const exprs = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  if (exprs.length === 0 && fields.length === 0) return false;
  const labels = node.metadata?.labels ?? {};
  const fieldValues = { 'metadata.name': node.metadata?.name ?? '' };
  return (
    exprs.every((r) => matchesRequirement(r, labels)) &&
    fields.every((r) => matchesRequirement(r, fieldValues))
  );
}

export function matchesNodeSelector(
  pod: { spec?: { nodeSelector?: Readonly<Record<string, string>> | undefined } | undefined },
  node: Node,
): boolean {
  const labels = node.metadata?.labels ?? {};
  for (const [k, v] of Object.entries(pod.spec?.nodeSelector ?? {})) if (labels[k] !== v) return false;
  return true;
}

export const nodeAffinityFilter: FilterPlugin = {
  name: 'NodeAffinity',
  filter(ctx, node) {
    const fail = unresolvable("node(s) didn't match Pod's node affinity/selector");
    if (!matchesNodeSelector(ctx.pod, node.node)) return fail;
    const required = ctx.pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
    if (required && !(required.nodeSelectorTerms ?? []).some((t) => matchesTerm(t, node.node))) return fail;
    return undefined;
  },
};

export const nodeNameFilter: FilterPlugin = {
  name: 'NodeName',
  filter(ctx, node) {
    const want = ctx.pod.spec?.nodeName;
    return want && want !== node.name
      ? unresolvable("node(s) didn't match the requested node name")
      : undefined;
  },
};

export const nodeAffinityScore: ScorePlugin = {
  name: 'NodeAffinity',
  weight: 2,
  score(ctx, node) {
    let sum = 0;
    for (const p of ctx.pod.spec?.affinity?.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution ??
      [])
      if (p.weight && p.preference && matchesTerm(p.preference, node.node)) sum += p.weight;
    return sum;
  },
  normalize: (scores) => normalizeByMax(scores),
};
