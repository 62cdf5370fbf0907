/** rbac.authorization.k8s.io/v1 RoleBinding: grants a Role or ClusterRole within a namespace. */
import type { Static } from '@sinclair/typebox';
import type { StatusCause } from '../../../lib/index.js';
import { AGE_COLUMN, ageCell, column, defineKind, topLevelSchema } from '../../define-kind.js';
import type { KubeObject } from '../../kind-definition.js';
import { list } from '../../schema/fields.js';
import { deepEqual } from '../../validation/deep-equal.js';
import { invalidCause } from '../../validation/field-causes.js';
import {
  applySubjectDefaults,
  RBAC_GROUP,
  RoleRefSchema,
  SubjectSchema,
  subjectsCell,
  validateRoleRef,
  validateSubjects,
} from './policy-rule.js';

export const RoleBindingSchema = topLevelSchema(
  'io.k8s.api.rbac.v1.RoleBinding',
  'RoleBinding references a role, but does not contain it. It adds who information via Subjects and namespace information by which namespace it exists in.',
  {
    subjects: list(SubjectSchema, 'Subjects holds references to the objects the role applies to.', {
      listType: 'atomic',
    }),
    roleRef: RoleRefSchema,
  },
  ['roleRef'],
);

export type RoleBinding = Static<typeof RoleBindingSchema>;

export const BINDING_COLUMNS = [
  column(
    'Role',
    'RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace.',
  ),
  AGE_COLUMN,
  column('Users', 'Users in the roleBinding', { priority: 1 }),
  column('Groups', 'Groups in the roleBinding', { priority: 1 }),
  column('ServiceAccounts', 'ServiceAccounts in the roleBinding', { priority: 1 }),
];

/** The ROLE cell (`ClusterRole/view`) and the wide subject cells. */
export function bindingCells(obj: KubeObject, nowMs: number): string[] {
  const b = obj as unknown as RoleBinding;
  return [
    `${b.roleRef?.kind ?? ''}/${b.roleRef?.name ?? ''}`,
    ageCell(obj, nowMs),
    subjectsCell(b.subjects, 'User'),
    subjectsCell(b.subjects, 'Group'),
    subjectsCell(b.subjects, 'ServiceAccount'),
  ];
}

export const roleBindingKind = defineKind({
  group: RBAC_GROUP,
  version: 'v1',
  kind: 'RoleBinding',
  plural: 'rolebindings',
  namespaced: true,
  description: RoleBindingSchema.description ?? '',
  schema: RoleBindingSchema,
  nameRule: 'pathSegment',
  applyDefaults(obj) {
    applySubjectDefaults((obj as unknown as RoleBinding).subjects);
  },
  validate(obj, old) {
    const causes: StatusCause[] = [];
    const b = obj as unknown as RoleBinding;
    validateRoleRef(causes, b.roleRef, ['Role', 'ClusterRole']);
    validateSubjects(causes, b.subjects, false);
    if (old && !deepEqual((old as unknown as RoleBinding).roleRef, b.roleRef)) {
      causes.push(invalidCause('roleRef', b.roleRef ?? null, 'cannot change roleRef'));
    }
    return causes;
  },
  columns: BINDING_COLUMNS,
  cells: bindingCells,
});
