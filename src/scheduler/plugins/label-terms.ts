/**
 * Pod label selectors as affinity terms and spread constraints use them: the term's selector
 * plus `matchLabelKeys` (the incoming pod's value must match) and `mismatchLabelKeys` (must
 * not), over the namespaces the term names (its own list, a namespace selector, or else the
 * namespace of the pod the term belongs to).
 */
import {
  labelSelectorFromObject,
  matchesLabelSelector,
  type LabelRequirement,
  type LabelSelector,
  type ParsedLabelSelector,
  type Pod,
} from '../../api/index.js';
import type { ClusterView } from '../framework.js';

export interface PodSelector {
  readonly selector: ParsedLabelSelector;
  /** undefined = all namespaces. */
  readonly namespaces: ReadonlySet<string> | undefined;
  readonly namespaceSelector: ParsedLabelSelector | undefined;
}

export interface TermLike {
  readonly labelSelector?: LabelSelector | undefined;
  readonly namespaces?: readonly string[] | undefined;
  readonly namespaceSelector?: LabelSelector | undefined;
  readonly matchLabelKeys?: readonly string[] | undefined;
  readonly mismatchLabelKeys?: readonly string[] | undefined;
}

/**
 * The selector of `term`, which belongs to `owner` (the pod whose spec holds the term).
 * A term without a labelSelector selects nothing, as upstream.
 */
export function podSelectorOf(term: TermLike, owner: Pod): PodSelector {
  const base = term.labelSelector
    ? labelSelectorFromObject(term.labelSelector)
    : { requirements: [], matchesNothing: true };
  const labels = owner.metadata?.labels ?? {};
  const extra: LabelRequirement[] = [];
  for (const k of term.matchLabelKeys ?? [])
    if (labels[k] !== undefined) extra.push({ key: k, operator: 'In', values: [labels[k]] });
  for (const k of term.mismatchLabelKeys ?? [])
    if (labels[k] !== undefined) extra.push({ key: k, operator: 'NotIn', values: [labels[k]] });
  const selector = extra.length > 0 ? { ...base, requirements: [...base.requirements, ...extra] } : base;
  const ownNamespace = owner.metadata?.namespace ?? '';
  if (term.namespaceSelector !== undefined) {
    const nsSel = labelSelectorFromObject(term.namespaceSelector);
    return { selector, namespaces: new Set(term.namespaces ?? []), namespaceSelector: nsSel };
  }
  const names = term.namespaces && term.namespaces.length > 0 ? term.namespaces : [ownNamespace];
  return { selector, namespaces: new Set(names), namespaceSelector: undefined };
}

export function selects(sel: PodSelector, pod: Pod, view: ClusterView): boolean {
  const ns = pod.metadata?.namespace ?? '';
  const inNamespace =
    (sel.namespaces?.has(ns) ?? false) ||
    (sel.namespaceSelector !== undefined &&
      matchesLabelSelector(sel.namespaceSelector, view.namespaceLabels(ns) ?? {}));
  return inNamespace && matchesLabelSelector(sel.selector, pod.metadata?.labels);
}
