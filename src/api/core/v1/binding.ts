/**
 * Request bodies of pod subresources: core/v1 Binding (`pods/binding`, used by the scheduler)
 * and policy/v1 Eviction (`pods/eviction`, used by `kubectl drain`).
 */
import type { Static } from '@sinclair/typebox';
import type { StatusCause } from '../../../lib/index.js';
import { DeleteOptionsSchema } from '../../meta/v1/status.js';
import { ObjectMetaSchema } from '../../meta/v1/object-meta.js';
import { object, str } from '../../schema/fields.js';
import { requiredCause, notSupportedCause } from '../../validation/field-causes.js';
import { ObjectReferenceSchema } from './object-reference.js';

export const BindingSchema = object(
  'io.k8s.api.core.v1.Binding',
  'Binding ties one object to another; for example, a pod is bound to a node by a scheduler.',
  {
    apiVersion: str('APIVersion defines the versioned schema of this representation of an object.'),
    kind: str('Kind is a string value representing the REST resource this object represents.'),
    metadata: ObjectMetaSchema,
    target: ObjectReferenceSchema,
  },
  { required: ['target'] },
);

export type Binding = Static<typeof BindingSchema>;

/** Upstream rules for a pod binding: the target must be a Node with a name. */
export function validateBinding(b: Binding): StatusCause[] {
  const causes: StatusCause[] = [];
  if (!b.target?.name) causes.push(requiredCause('target.name'));
  if (b.target?.kind !== undefined && b.target.kind !== '' && b.target.kind !== 'Node') {
    causes.push(notSupportedCause('target.kind', b.target.kind, ['Node']));
  }
  return causes;
}

export const EvictionSchema = object(
  'io.k8s.api.policy.v1.Eviction',
  'Eviction evicts a pod from its node subject to certain policies and safety constraints.',
  {
    apiVersion: str('APIVersion defines the versioned schema of this representation of an object.'),
    kind: str('Kind is a string value representing the REST resource this object represents.'),
    metadata: ObjectMetaSchema,
    deleteOptions: DeleteOptionsSchema,
  },
);

export type Eviction = Static<typeof EvictionSchema>;
