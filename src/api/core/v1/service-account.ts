/** core/v1 ServiceAccount: an identity for processes that run in a pod. */
import type { Static } from '@sinclair/typebox';
import type { StatusCause } from '../../../lib/index.js';
import { AGE_COLUMN, ageCell, column, defineKind, topLevelSchema } from '../../define-kind.js';
import type { KubeObject } from '../../kind-definition.js';
import { bool, list } from '../../schema/fields.js';
import { requiredCause } from '../../validation/field-causes.js';
import { LocalObjectReferenceSchema, ObjectReferenceSchema } from './object-reference.js';

export const ServiceAccountSchema = topLevelSchema(
  'io.k8s.api.core.v1.ServiceAccount',
  'ServiceAccount binds together: a name, understood by users, and perhaps by peripheral systems, for an identity; a principal that can be authenticated and authorized; a set of secrets.',
  {
    secrets: list(
      ObjectReferenceSchema,
      'Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.',
      {
        mergeKey: 'name',
        listType: 'map',
        mapKeys: ['name'],
      },
    ),
    imagePullSecrets: list(
      LocalObjectReferenceSchema,
      'ImagePullSecrets is a list of references to secrets in the same namespace to use for pulling any images in pods that reference this ServiceAccount.',
      {
        listType: 'atomic',
      },
    ),
    automountServiceAccountToken: bool(
      'AutomountServiceAccountToken indicates whether pods running as this service account should have an API token automatically mounted.',
    ),
  },
);

export type ServiceAccount = Static<typeof ServiceAccountSchema>;

function saOf(obj: KubeObject): ServiceAccount {
  return obj as unknown as ServiceAccount;
}

export const serviceAccountKind = defineKind({
  group: '',
  version: 'v1',
  kind: 'ServiceAccount',
  plural: 'serviceaccounts',
  shortNames: ['sa'],
  namespaced: true,
  description: ServiceAccountSchema.description ?? '',
  schema: ServiceAccountSchema,
  validate(obj) {
    const causes: StatusCause[] = [];
    saOf(obj).imagePullSecrets?.forEach((s, i) => {
      if (!s.name) causes.push(requiredCause(`imagePullSecrets[${i}].name`));
    });
    return causes;
  },
  columns: [
    column(
      'Secrets',
      'Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.',
      { type: 'integer' },
    ),
    AGE_COLUMN,
  ],
  cells: (obj, nowMs) => [saOf(obj).secrets?.length ?? 0, ageCell(obj, nowMs)],
});
