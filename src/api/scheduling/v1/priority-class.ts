/**
 * scheduling.k8s.io/v1 PriorityClass: maps a priority class name to the integer priority the
 * scheduler orders and preempts by. The two `system-` classes exist from bootstrap; user
 * classes may not take their names or values above one billion (upstream's HighestUserDefinablePriority).
 */
import type { Static } from '@sinclair/typebox';
import type { StatusCause } from '../../../lib/index.js';
import { AGE_COLUMN, ageCell, column, defineKind, topLevelSchema } from '../../define-kind.js';
import type { KubeObject } from '../../kind-definition.js';
import { bool, int32, str } from '../../schema/fields.js';
import {
  checkSupported,
  forbiddenCause,
  immutableCause,
  invalidCause,
  requiredCause,
} from '../../validation/field-causes.js';

/** The largest priority a user-defined class may have. */
export const highestUserDefinablePriority = 1_000_000_000;

/** The classes every cluster has, as upstream's scheduling bootstrap creates them. */
export const systemPriorityClasses = [
  {
    name: 'system-node-critical',
    value: 2_000_001_000,
    description: 'Used for system critical pods that must not be moved from their current node.',
  },
  {
    name: 'system-cluster-critical',
    value: 2_000_000_000,
    description:
      'Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.',
  },
] as const;

export const PREEMPTION_POLICIES = ['PreemptLowerPriority', 'Never'] as const;

export const PriorityClassSchema = topLevelSchema(
  'io.k8s.api.scheduling.v1.PriorityClass',
  'PriorityClass defines mapping from a priority class name to the priority integer value. The value can be any valid integer.',
  {
    value: int32(
      'value represents the integer value of this priority class. This is the actual priority that pods receive when they have the name of this class in their pod spec.',
    ),
    globalDefault: bool(
      'globalDefault specifies whether this PriorityClass should be considered as the default priority for pods that do not have any priority class. Only one PriorityClass can be marked as `globalDefault`.',
    ),
    description: str(
      'description is an arbitrary string that usually provides guidelines on when this priority class should be used.',
    ),
    preemptionPolicy: str(
      'preemptionPolicy is the Policy for preempting pods with lower priority. One of Never, PreemptLowerPriority. Defaults to PreemptLowerPriority if unset.',
    ),
  },
  ['value'],
);

export type PriorityClass = Static<typeof PriorityClassSchema>;

function pcOf(obj: KubeObject): PriorityClass {
  return obj as unknown as PriorityClass;
}

function isSystemClass(name: string): boolean {
  return systemPriorityClasses.some((c) => c.name === name);
}

export const priorityClassKind = defineKind({
  group: 'scheduling.k8s.io',
  version: 'v1',
  kind: 'PriorityClass',
  plural: 'priorityclasses',
  shortNames: ['pc'],
  namespaced: false,
  description: PriorityClassSchema.description ?? '',
  schema: PriorityClassSchema,
  applyDefaults(obj) {
    const pc = obj as KubeObject & { preemptionPolicy?: string };
    pc.preemptionPolicy ??= 'PreemptLowerPriority';
  },
  validate(obj, old) {
    const causes: StatusCause[] = [];
    const pc = pcOf(obj);
    const name = pc.metadata?.name ?? '';
    if (pc.value === undefined) causes.push(requiredCause('value'));
    else if (isSystemClass(name)) {
      const sys = systemPriorityClasses.find((c) => c.name === name);
      if (sys && pc.value !== sys.value)
        causes.push(invalidCause('value', pc.value, `must be ${sys.value} for the system class ${name}`));
    } else {
      if (name.startsWith('system-'))
        causes.push(
          forbiddenCause('metadata.name', 'priority class names with the prefix "system-" are reserved'),
        );
      if (pc.value > highestUserDefinablePriority)
        causes.push(
          invalidCause('value', pc.value, `must be no greater than ${highestUserDefinablePriority}`),
        );
    }
    checkSupported(causes, 'preemptionPolicy', pc.preemptionPolicy, PREEMPTION_POLICIES);
    if (old) {
      const was = pcOf(old);
      if (was.value !== pc.value) causes.push(immutableCause('value', pc.value ?? ''));
      if ((was.preemptionPolicy ?? '') !== (pc.preemptionPolicy ?? ''))
        causes.push(immutableCause('preemptionPolicy', pc.preemptionPolicy ?? ''));
    }
    return causes;
  },
  columns: [
    column('Value', 'value represents the integer value of this priority class.', { type: 'integer' }),
    column(
      'Global-Default',
      'globalDefault specifies whether this PriorityClass should be considered as the default priority.',
      { type: 'boolean' },
    ),
    column('PreemptionPolicy', 'preemptionPolicy is the Policy for preempting pods with lower priority.'),
    AGE_COLUMN,
  ],
  cells: (obj, nowMs) => {
    const pc = pcOf(obj);
    return [pc.value ?? 0, pc.globalDefault ?? false, pc.preemptionPolicy ?? '', ageCell(obj, nowMs)];
  },
});
