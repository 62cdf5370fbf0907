/**
 * Scheduling constraints of a pod: node/pod affinity, tolerations and topology spread
 * constraints, with upstream's validation. The scheduler reads the same types.
 */
import type { Static } from '@sinclair/typebox';
import type { StatusCause } from '../../../lib/index.js';
import { LabelSelectorSchema, validateLabelSelector } from '../../meta/v1/label-selector.js';
import { int32, int64, list, object, str, stringList } from '../../schema/fields.js';
import {
  checkIntRange,
  checkSupported,
  forbiddenCause,
  invalidCause,
  requiredCause,
} from '../../validation/field-causes.js';
import { checkDns1123Label, checkLabelValue, checkQualifiedName } from '../../validation/names.js';

export const NodeSelectorRequirementSchema = object(
  'io.k8s.api.core.v1.NodeSelectorRequirement',
  'A node selector requirement is a selector that contains values, a key, and an operator that relates the key and values.',
  {
    key: str('The label key that the selector applies to.'),
    operator: str(
      "Represents a key's relationship to a set of values. Valid operators are In, NotIn, Exists, DoesNotExist. Gt, and Lt.",
    ),
    values: stringList('An array of string values.', { 'x-kubernetes-list-type': 'atomic' }),
  },
  { required: ['key', 'operator'] },
);

export const NodeSelectorTermSchema = object(
  'io.k8s.api.core.v1.NodeSelectorTerm',
  'A null or empty node selector term matches no objects. The requirements of them are ANDed.',
  {
    matchExpressions: list(
      NodeSelectorRequirementSchema,
      "A list of node selector requirements by node's labels.",
      { listType: 'atomic' },
    ),
    matchFields: list(
      NodeSelectorRequirementSchema,
      "A list of node selector requirements by node's fields.",
      { listType: 'atomic' },
    ),
  },
  { extra: { 'x-kubernetes-map-type': 'atomic' } },
);

export const NodeSelectorSchema = object(
  'io.k8s.api.core.v1.NodeSelector',
  'A node selector represents the union of the results of one or more label queries over a set of nodes; that is, it represents the OR of the selectors represented by the node selector terms.',
  {
    nodeSelectorTerms: list(
      NodeSelectorTermSchema,
      'Required. A list of node selector terms. The terms are ORed.',
      { listType: 'atomic' },
    ),
  },
  { required: ['nodeSelectorTerms'], extra: { 'x-kubernetes-map-type': 'atomic' } },
);

export const PodAffinityTermSchema = object(
  'io.k8s.api.core.v1.PodAffinityTerm',
  'Defines a set of pods (namely those matching the labelSelector relative to the given namespace(s)) that this pod should be co-located (affinity) or not co-located (anti-affinity) with.',
  {
    labelSelector: LabelSelectorSchema,
    namespaces: stringList(
      'namespaces specifies a static list of namespace names that the term applies to.',
      { 'x-kubernetes-list-type': 'atomic' },
    ),
    topologyKey: str(
      'This pod should be co-located (affinity) or not co-located (anti-affinity) with the pods matching the labelSelector in the specified namespaces, where co-located is defined as running on a node whose value of the label with key topologyKey matches that of any node on which any of the selected pods is running. Empty topologyKey is not allowed.',
    ),
    namespaceSelector: LabelSelectorSchema,
    matchLabelKeys: stringList(
      'MatchLabelKeys is a set of pod label keys to select which pods will be taken into consideration.',
      { 'x-kubernetes-list-type': 'atomic' },
    ),
    mismatchLabelKeys: stringList(
      'MismatchLabelKeys is a set of pod label keys to select which pods will be taken into consideration.',
      { 'x-kubernetes-list-type': 'atomic' },
    ),
  },
  { required: ['topologyKey'] },
);

export const WeightedPodAffinityTermSchema = object(
  'io.k8s.api.core.v1.WeightedPodAffinityTerm',
  'The weights of all of the matched WeightedPodAffinityTerm fields are added per-node to find the most preferred node(s)',
  {
    weight: int32('weight associated with matching the corresponding podAffinityTerm, in the range 1-100.'),
    podAffinityTerm: PodAffinityTermSchema,
  },
  { required: ['weight', 'podAffinityTerm'] },
);

const podAffinity = (name: string, what: string) =>
  object(name, `Pod ${what} is a group of inter pod ${what} scheduling rules.`, {
    requiredDuringSchedulingIgnoredDuringExecution: list(
      PodAffinityTermSchema,
      `If the ${what} requirements specified by this field are not met at scheduling time, the pod will not be scheduled onto the node.`,
      { listType: 'atomic' },
    ),
    preferredDuringSchedulingIgnoredDuringExecution: list(
      WeightedPodAffinityTermSchema,
      `The scheduler will prefer to schedule pods to nodes that satisfy the ${what} expressions specified by this field.`,
      { listType: 'atomic' },
    ),
  });

export const AffinitySchema = object(
  'io.k8s.api.core.v1.Affinity',
  'Affinity is a group of affinity scheduling rules.',
  {
    nodeAffinity: object(
      'io.k8s.api.core.v1.NodeAffinity',
      'Node affinity is a group of node affinity scheduling rules.',
      {
        requiredDuringSchedulingIgnoredDuringExecution: NodeSelectorSchema,
        preferredDuringSchedulingIgnoredDuringExecution: list(
          object(
            'io.k8s.api.core.v1.PreferredSchedulingTerm',
            "An empty preferred scheduling term matches all objects with implicit weight 0 (i.e. it's a no-op).",
            {
              weight: int32(
                'Weight associated with matching the corresponding nodeSelectorTerm, in the range 1-100.',
              ),
              preference: NodeSelectorTermSchema,
            },
            { required: ['weight', 'preference'] },
          ),
          'The scheduler will prefer to schedule pods to nodes that satisfy the affinity expressions specified by this field.',
          { listType: 'atomic' },
        ),
      },
    ),
    podAffinity: podAffinity('io.k8s.api.core.v1.PodAffinity', 'affinity'),
    podAntiAffinity: podAffinity('io.k8s.api.core.v1.PodAntiAffinity', 'anti-affinity'),
  },
);

export const TolerationSchema = object(
  'io.k8s.api.core.v1.Toleration',
  'The pod this Toleration is attached to tolerates any taint that matches the triple <key,value,effect> using the matching operator <operator>.',
  {
    key: str('Key is the taint key that the toleration applies to. Empty means match all taint keys.'),
    operator: str(
      "Operator represents a key's relationship to the value. Valid operators are Exists and Equal. Defaults to Equal.",
    ),
    value: str('Value is the taint value the toleration matches to.'),
    effect: str(
      'Effect indicates the taint effect to match. Empty means match all taint effects. When specified, allowed values are NoSchedule, PreferNoSchedule and NoExecute.',
    ),
    tolerationSeconds: int64(
      'TolerationSeconds represents the period of time the toleration (which must be of effect NoExecute, otherwise this field is ignored) tolerates the taint.',
    ),
  },
);

export const TopologySpreadConstraintSchema = object(
  'io.k8s.api.core.v1.TopologySpreadConstraint',
  'TopologySpreadConstraint specifies how to spread matching pods among the given topology.',
  {
    maxSkew: int32('MaxSkew describes the degree to which pods may be unevenly distributed.'),
    topologyKey: str('TopologyKey is the key of node labels.'),
    whenUnsatisfiable: str(
      "WhenUnsatisfiable indicates how to deal with a pod if it doesn't satisfy the spread constraint. DoNotSchedule (default) or ScheduleAnyway.",
    ),
    labelSelector: LabelSelectorSchema,
    minDomains: int32('MinDomains indicates a minimum number of eligible domains.'),
    nodeAffinityPolicy: str(
      "NodeAffinityPolicy indicates how we will treat Pod's nodeAffinity/nodeSelector when calculating pod topology spread skew. Honor or Ignore.",
    ),
    nodeTaintsPolicy: str(
      'NodeTaintsPolicy indicates how we will treat node taints when calculating pod topology spread skew. Honor or Ignore.',
    ),
    matchLabelKeys: stringList(
      'MatchLabelKeys is a set of pod label keys to select the pods over which spreading will be calculated.',
      { 'x-kubernetes-list-type': 'atomic' },
    ),
  },
  { required: ['maxSkew', 'topologyKey', 'whenUnsatisfiable'] },
);

export type Affinity = Static<typeof AffinitySchema>;
export type Toleration = Static<typeof TolerationSchema>;
export type NodeSelectorTerm = Static<typeof NodeSelectorTermSchema>;

const NODE_SELECTOR_OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist', 'Gt', 'Lt'] as const;
export const TAINT_EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'] as const;

function validateNodeSelectorTerm(causes: StatusCause[], term: NodeSelectorTerm, path: string): void {
  (term.matchExpressions ?? []).forEach((r, i) => {
    const p = `${path}.matchExpressions[${i}]`;
    if (!r.key) causes.push(requiredCause(`${p}.key`));
    else for (const msg of checkQualifiedName(r.key)) causes.push(invalidCause(`${p}.key`, r.key, msg));
    checkSupported(causes, `${p}.operator`, r.operator, NODE_SELECTOR_OPERATORS);
    const n = r.values?.length ?? 0;
    if ((r.operator === 'In' || r.operator === 'NotIn') && n === 0) {
      causes.push(requiredCause(`${p}.values`, "must be specified when `operator` is 'In' or 'NotIn'"));
    }
    if ((r.operator === 'Exists' || r.operator === 'DoesNotExist') && n > 0) {
      causes.push(
        forbiddenCause(`${p}.values`, "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"),
      );
    }
    if (r.operator === 'Gt' || r.operator === 'Lt') {
      if (n !== 1)
        causes.push(
          requiredCause(`${p}.values`, "must be specified single value when `operator` is 'Lt' or 'Gt'"),
        );
      else if (!/^-?\d+$/.test(r.values?.[0] ?? ''))
        causes.push(invalidCause(`${p}.values[0]`, r.values?.[0], 'must be an integer'));
    }
    (r.values ?? []).forEach((v, j) => {
      for (const msg of checkLabelValue(v)) causes.push(invalidCause(`${p}.values[${j}]`, v, msg));
    });
  });
  (term.matchFields ?? []).forEach((r, i) => {
    const p = `${path}.matchFields[${i}]`;
    if (r.key !== 'metadata.name')
      causes.push({
        reason: 'FieldValueNotSupported',
        message: `Unsupported value: ${JSON.stringify(r.key ?? '')}: supported values: "metadata.name"`,
        field: `${p}.key`,
      });
    if (r.operator !== 'In' && r.operator !== 'NotIn')
      checkSupported(causes, `${p}.operator`, r.operator, ['In', 'NotIn']);
    if ((r.values?.length ?? 0) !== 1)
      causes.push(
        requiredCause(
          `${p}.values`,
          "must be only one value when `operator` is 'In' or 'NotIn' for node field selector",
        ),
      );
  });
}

function validatePodAffinityTerm(
  causes: StatusCause[],
  t: Static<typeof PodAffinityTermSchema>,
  path: string,
): void {
  if (!t.topologyKey) causes.push(requiredCause(`${path}.topologyKey`, 'can not be empty'));
  else
    for (const msg of checkQualifiedName(t.topologyKey))
      causes.push(invalidCause(`${path}.topologyKey`, t.topologyKey, msg));
  causes.push(...validateLabelSelector(t.labelSelector, `${path}.labelSelector`));
  causes.push(...validateLabelSelector(t.namespaceSelector, `${path}.namespaceSelector`));
  (t.namespaces ?? []).forEach((ns, i) => {
    for (const msg of checkDns1123Label(ns)) causes.push(invalidCause(`${path}.namespaces[${i}]`, ns, msg));
  });
}

/** Upstream `validateAffinity`. */
export function validateAffinity(causes: StatusCause[], a: Affinity | undefined, path: string): void {
  if (!a) return;
  const na = a.nodeAffinity;
  if (na?.requiredDuringSchedulingIgnoredDuringExecution) {
    const terms = na.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms ?? [];
    const p = `${path}.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms`;
    if (terms.length === 0) causes.push(requiredCause(p, 'must have at least one node selector term'));
    terms.forEach((t, i) => validateNodeSelectorTerm(causes, t, `${p}[${i}]`));
  }
  (na?.preferredDuringSchedulingIgnoredDuringExecution ?? []).forEach((t, i) => {
    const p = `${path}.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[${i}]`;
    checkIntRange(causes, `${p}.weight`, t.weight ?? 0, 1, 100);
    if (t.preference) validateNodeSelectorTerm(causes, t.preference, `${p}.preference`);
  });
  for (const key of ['podAffinity', 'podAntiAffinity'] as const) {
    const pa = a[key];
    if (!pa) continue;
    (pa.requiredDuringSchedulingIgnoredDuringExecution ?? []).forEach((t, i) =>
      validatePodAffinityTerm(
        causes,
        t,
        `${path}.${key}.requiredDuringSchedulingIgnoredDuringExecution[${i}]`,
      ),
    );
    (pa.preferredDuringSchedulingIgnoredDuringExecution ?? []).forEach((t, i) => {
      const p = `${path}.${key}.preferredDuringSchedulingIgnoredDuringExecution[${i}]`;
      checkIntRange(causes, `${p}.weight`, t.weight ?? 0, 1, 100);
      if (!t.podAffinityTerm) causes.push(requiredCause(`${p}.podAffinityTerm`));
      else validatePodAffinityTerm(causes, t.podAffinityTerm, `${p}.podAffinityTerm`);
    });
  }
}

/** Upstream `ValidateTolerations`. */
export function validateTolerations(
  causes: StatusCause[],
  tolerations: readonly Toleration[] | undefined,
  path: string,
): void {
  (tolerations ?? []).forEach((t, i) => {
    const p = `${path}[${i}]`;
    if (t.key) for (const msg of checkQualifiedName(t.key)) causes.push(invalidCause(`${p}.key`, t.key, msg));
    if (!t.key && t.operator !== 'Exists') {
      causes.push(
        invalidCause(
          `${p}.operator`,
          t.operator ?? '',
          'operator must be Exists when `key` is empty, which means "match all values and all keys"',
        ),
      );
    }
    if (t.tolerationSeconds !== undefined && t.effect !== 'NoExecute') {
      causes.push(
        invalidCause(
          `${p}.effect`,
          t.effect ?? '',
          "effect must be 'NoExecute' when `tolerationSeconds` is set",
        ),
      );
    }
    switch (t.operator) {
      case undefined:
      case '':
      case 'Equal':
        if (t.value)
          for (const msg of checkLabelValue(t.value)) causes.push(invalidCause(`${p}.value`, t.value, msg));
        break;
      case 'Exists':
        if (t.value)
          causes.push(
            invalidCause(`${p}.operator`, t.value, "value must be empty when `operator` is 'Exists'"),
          );
        break;
      default:
        causes.push({
          reason: 'FieldValueNotSupported',
          message: `Unsupported value: ${JSON.stringify(t.operator)}: supported values: "Equal", "Exists"`,
          field: `${p}.operator`,
        });
    }
    if (t.effect) checkSupported(causes, `${p}.effect`, t.effect, TAINT_EFFECTS);
  });
}

/** Upstream `validateTopologySpreadConstraints`. */
export function validateTopologySpreadConstraints(
  causes: StatusCause[],
  constraints: readonly Static<typeof TopologySpreadConstraintSchema>[] | undefined,
  path: string,
): void {
  const seen = new Set<string>();
  (constraints ?? []).forEach((c, i) => {
    const p = `${path}[${i}]`;
    if (c.maxSkew === undefined || c.maxSkew <= 0)
      causes.push(invalidCause(`${p}.maxSkew`, c.maxSkew ?? 0, 'must be greater than zero'));
    if (!c.topologyKey) causes.push(requiredCause(`${p}.topologyKey`, 'can not be empty'));
    else
      for (const msg of checkQualifiedName(c.topologyKey))
        causes.push(invalidCause(`${p}.topologyKey`, c.topologyKey, msg));
    if (c.whenUnsatisfiable === undefined) causes.push(requiredCause(`${p}.whenUnsatisfiable`));
    else
      checkSupported(causes, `${p}.whenUnsatisfiable`, c.whenUnsatisfiable, [
        'DoNotSchedule',
        'ScheduleAnyway',
      ]);
    const key = `${c.topologyKey}/${c.whenUnsatisfiable}`;
    if (seen.has(key))
      causes.push({
        reason: 'FieldValueDuplicate',
        message: `Duplicate value: "{${c.topologyKey}, ${c.whenUnsatisfiable}}"`,
        field: `${p}`,
      });
    seen.add(key);
    if (c.minDomains !== undefined) {
      if (c.minDomains <= 0)
        causes.push(invalidCause(`${p}.minDomains`, c.minDomains, 'must be greater than 0'));
      else if (c.whenUnsatisfiable !== 'DoNotSchedule')
        causes.push(
          invalidCause(
            `${p}.minDomains`,
            c.minDomains,
            'can only use minDomains if whenUnsatisfiable=DoNotSchedule',
          ),
        );
    }
    checkSupported(causes, `${p}.nodeAffinityPolicy`, c.nodeAffinityPolicy, ['Honor', 'Ignore']);
    checkSupported(causes, `${p}.nodeTaintsPolicy`, c.nodeTaintsPolicy, ['Honor', 'Ignore']);
    causes.push(...validateLabelSelector(c.labelSelector, `${p}.labelSelector`));
  });
}
