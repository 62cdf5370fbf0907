/** rbac.authorization.k8s.io/v1 ClusterRoleBinding: grants a ClusterRole cluster-wide. */
import type { Static } from '@sinclair/typebox';
import type { StatusCause } from '../../../lib/index.js';
import { defineKind, topLevelSchema } from '../../define-kind.js';
import { list } from '../../schema/fields.js';
import { deepEqual } from '../../validation/deep-equal.js';
import { invalidCause } from '../../validation/field-causes.js';
import {
  applySubjectDefaults,
  RBAC_GROUP,
  RoleRefSchema,
  SubjectSchema,
  validateRoleRef,
  validateSubjects,
} from './policy-rule.js';
import { BINDING_COLUMNS, bindingCells } from './role-binding.js';

export const ClusterRoleBindingSchema = topLevelSchema(
  'io.k8s.api.rbac.v1.ClusterRoleBinding',
  'ClusterRoleBinding references a ClusterRole, but not contain it. It can reference a ClusterRole in the global namespace, and adds who information via Subject.',
  {
    subjects: list(SubjectSchema, 'Subjects holds references to the objects the role applies to.', {
      listType: 'atomic',
    }),
    roleRef: RoleRefSchema,
  },
  ['roleRef'],
);

export type ClusterRoleBinding = Static<typeof ClusterRoleBindingSchema>;

export const clusterRoleBindingKind = defineKind({
  group: RBAC_GROUP,
  version: 'v1',
  kind: 'ClusterRoleBinding',
  plural: 'clusterrolebindings',
  namespaced: false,
  description: ClusterRoleBindingSchema.description ?? '',
  schema: ClusterRoleBindingSchema,
  nameRule: 'pathSegment',
  applyDefaults(obj) {
    applySubjectDefaults((obj as unknown as ClusterRoleBinding).subjects);
  },
  validate(obj, old) {
    const causes: StatusCause[] = [];
    const b = obj as unknown as ClusterRoleBinding;
    validateRoleRef(causes, b.roleRef, ['ClusterRole']);
    validateSubjects(causes, b.subjects, true);
    if (old && !deepEqual((old as unknown as ClusterRoleBinding).roleRef, b.roleRef)) {
      causes.push(invalidCause('roleRef', b.roleRef ?? null, 'cannot change roleRef'));
    }
    return causes;
  },
  columns: BINDING_COLUMNS,
  cells: bindingCells,
});
