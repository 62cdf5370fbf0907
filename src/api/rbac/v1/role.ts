/** rbac.authorization.k8s.io/v1 Role: namespaced permissions. */
import type { Static } from '@sinclair/typebox';
import type { StatusCause } from '../../../lib/index.js';
import { column, defineKind, topLevelSchema } from '../../define-kind.js';
import type { KubeObject } from '../../kind-definition.js';
import { list } from '../../schema/fields.js';
import { PolicyRuleSchema, RBAC_GROUP, validatePolicyRules } from './policy-rule.js';

export const RoleSchema = topLevelSchema(
  'io.k8s.api.rbac.v1.Role',
  'Role is a namespaced, logical grouping of PolicyRules that can be referenced as a unit by a RoleBinding.',
  { rules: list(PolicyRuleSchema, 'Rules holds all the PolicyRules for this Role', { listType: 'atomic' }) },
);

export type Role = Static<typeof RoleSchema>;

/** The "Created At" column RBAC tables use instead of AGE. */
export const CREATED_AT_COLUMN = {
  ...column(
    'Created At',
    'CreationTimestamp is a timestamp representing the server time when this object was created.',
  ),
  type: 'date' as const,
};

export const roleKind = defineKind({
  group: RBAC_GROUP,
  version: 'v1',
  kind: 'Role',
  plural: 'roles',
  namespaced: true,
  description: RoleSchema.description ?? '',
  schema: RoleSchema,
  nameRule: 'pathSegment',
  validate(obj: KubeObject) {
    const causes: StatusCause[] = [];
    validatePolicyRules(causes, (obj as unknown as Role).rules, 'rules', true);
    return causes;
  },
  columns: [CREATED_AT_COLUMN],
  cells: (obj) => [obj.metadata.creationTimestamp ?? ''],
});
