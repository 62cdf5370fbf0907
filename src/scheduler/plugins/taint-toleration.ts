/**
 * Taints and tolerations (upstream's TaintToleration plugin): a node's NoSchedule and
 * NoExecute taints keep off pods that do not tolerate them; PreferNoSchedule taints lower the
 * node's score. A node whose Ready condition is not True counts as tainted
 * `node.kubernetes.io/not-ready` (or `unreachable` when Unknown) until the node lifecycle
 * controller taints it itself, so the scheduler never places pods on a dead node.
 */
import type { Node, Toleration } from '../../api/index.js';
import { normalizeByMax, unresolvable, type FilterPlugin, type ScorePlugin } from '../framework.js';
import type { NodeInfo } from '../node-info.js';

export interface Taint {
  readonly key: string;
  readonly value?: string | undefined;
  readonly effect: string;
}

export const notReadyTaintKey = 'node.kubernetes.io/not-ready';
export const unreachableTaintKey = 'node.kubernetes.io/unreachable';
export const unschedulableTaintKey = 'node.kubernetes.io/unschedulable';

export function tolerates(tolerations: readonly Toleration[] | undefined, taint: Taint): boolean {
  for (const t of tolerations ?? []) {
    if (t.effect && t.effect !== taint.effect) continue;
    if (t.operator === 'Exists') {
      if (!t.key || t.key === taint.key) return true;
      continue;
    }
    if (t.key === taint.key && (t.value ?? '') === (taint.value ?? '')) return true;
  }
  return false;
}

/** The node's taints, plus the one its Ready condition implies when it has none of its own. */
export function effectiveTaints(node: Node): Taint[] {
  const taints: Taint[] = (node.spec?.taints ?? []).map((t) => ({
    key: t.key ?? '',
    value: t.value,
    effect: t.effect ?? '',
  }));
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
  if (
    ready?.status !== 'True' &&
    !taints.some((t) => t.key === notReadyTaintKey || t.key === unreachableTaintKey)
  )
    taints.push({
      key: ready?.status === 'Unknown' ? unreachableTaintKey : notReadyTaintKey,
      effect: 'NoSchedule',
    });
  return taints;
}

export const taintTolerationFilter: FilterPlugin = {
  name: 'TaintToleration',
  filter(ctx, node) {
    const tolerations = ctx.pod.spec?.tolerations;
    for (const taint of effectiveTaints(node.node)) {
      if (taint.effect !== 'NoSchedule' && taint.effect !== 'NoExecute') continue;
      if (!tolerates(tolerations, taint))
        return unresolvable(`node(s) had untolerated taint {${taint.key}: ${taint.value ?? ''}}`);
    }
    return undefined;
  },
};

export const nodeUnschedulableFilter: FilterPlugin = {
  name: 'NodeUnschedulable',
  filter(ctx, node) {
    if (node.node.spec?.unschedulable !== true) return undefined;
    if (tolerates(ctx.pod.spec?.tolerations, { key: unschedulableTaintKey, effect: 'NoSchedule' }))
      return undefined;
    return unresolvable('node(s) were unschedulable');
  },
};

function intolerablePreferNoSchedule(tolerations: readonly Toleration[] | undefined, node: NodeInfo): number {
  let n = 0;
  for (const taint of node.node.spec?.taints ?? [])
    if (
      taint.effect === 'PreferNoSchedule' &&
      !tolerates(tolerations, { key: taint.key ?? '', value: taint.value, effect: 'PreferNoSchedule' })
    )
      n++;
  return n;
}

export const taintTolerationScore: ScorePlugin = {
  name: 'TaintToleration',
  weight: 3,
  score: (ctx, node) => intolerablePreferNoSchedule(ctx.pod.spec?.tolerations, node),
  normalize: (scores) => normalizeByMax(scores, true),
};
