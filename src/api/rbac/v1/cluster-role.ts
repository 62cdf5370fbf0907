/** rbac.authorization.k8s.io/v1 ClusterRole: cluster-wide permissions, optionally aggregated. */
import type { Static } from '@sinclair/typebox';
import type { StatusCause } from '../../../lib/index.js';
import { defineKind, topLevelSchema } from '../../define-kind.js';
import type { KubeObject } from '../../kind-definition.js';
import { LabelSelectorSchema, validateLabelSelector } from '../../meta/v1/label-selector.js';
import { list, object } from '../../schema/fields.js';
import { PolicyRuleSchema, RBAC_GROUP, validatePolicyRules } from './policy-rule.js';
import { CREATED_AT_COLUMN } from './role.js';

export const ClusterRoleSchema = topLevelSchema(
  'io.k8s.api.rbac.v1.ClusterRole',
  'ClusterRole is a cluster level, logical grouping of PolicyRules that can be referenced as a unit by a RoleBinding or ClusterRoleBinding.',
  {
    rules: list(PolicyRuleSchema, 'Rules holds all the PolicyRules for this ClusterRole', {
      listType: 'atomic',
    }),
    aggregationRule: object(
      'io.k8s.api.rbac.v1.AggregationRule',
      'AggregationRule describes how to locate ClusterRoles to aggregate into the ClusterRole',
      {
        clusterRoleSelectors: list(
          LabelSelectorSchema,
          'ClusterRoleSelectors holds a list of selectors which will be used to find ClusterRoles and create the rules.',
          { listType: 'atomic' },
        ),
      },
    ),
  },
);

export type ClusterRole = Static<typeof ClusterRoleSchema>;

export const clusterRoleKind = defineKind({
  group: RBAC_GROUP,
  version: 'v1',
  kind: 'ClusterRole',
  plural: 'clusterroles',
  namespaced: false,
  description: ClusterRoleSchema.description ?? '',
  schema: ClusterRoleSchema,
  nameRule: 'pathSegment',
  validate(obj: KubeObject) {
    const causes: StatusCause[] = [];
    const role = obj as unknown as ClusterRole;
    validatePolicyRules(causes, role.rules, 'rules', false);
    (role.aggregationRule?.clusterRoleSelectors ?? []).forEach((s, i) => {
      causes.push(...validateLabelSelector(s, `aggregationRule.clusterRoleSelectors[${i}]`));
    });
    return causes;
  },
  columns: [CREATED_AT_COLUMN],
  cells: (obj) => [obj.metadata.creationTimestamp ?? ''],
});
