/** RBAC building blocks shared by Role/ClusterRole and the bindings: rules, subjects, roleRef. */
import type { Static } from '@sinclair/typebox';
import type { StatusCause } from '../../../lib/index.js';
import { object, str, stringList } from '../../schema/fields.js';
import {
  checkSupported,
  invalidCause,
  notSupportedCause,
  requiredCause,
} from '../../validation/field-causes.js';
import { checkDns1123Label, checkPathSegmentName } from '../../validation/names.js';

export const RBAC_GROUP = 'rbac.authorization.k8s.io';

export const PolicyRuleSchema = object(
  'io.k8s.api.rbac.v1.PolicyRule',
  'PolicyRule holds information that describes a policy rule, but does not contain information about who the rule applies to or which namespace the rule applies to.',
  {
    verbs: stringList(
      "Verbs is a list of Verbs that apply to ALL the ResourceKinds contained in this rule. '*' represents all verbs.",
      { 'x-kubernetes-list-type': 'atomic' },
    ),
    apiGroups: stringList(
      'APIGroups is the name of the APIGroup that contains the resources. "" represents the core API group and "*" represents all API groups.',
      { 'x-kubernetes-list-type': 'atomic' },
    ),
    resources: stringList(
      "Resources is a list of resources this rule applies to. '*' represents all resources.",
      { 'x-kubernetes-list-type': 'atomic' },
    ),
    resourceNames: stringList(
      'ResourceNames is an optional white list of names that the rule applies to. An empty set means that everything is allowed.',
      { 'x-kubernetes-list-type': 'atomic' },
    ),
    nonResourceURLs: stringList(
      'NonResourceURLs is a set of partial urls that a user should have access to. *s are allowed, but only as the full, final step in the path.',
      { 'x-kubernetes-list-type': 'atomic' },
    ),
  },
  { required: ['verbs'] },
);

export const SubjectSchema = object(
  'io.k8s.api.rbac.v1.Subject',
  'Subject contains a reference to the object or user identities a role binding applies to.',
  {
    kind: str(
      'Kind of object being referenced. Values defined by this API group are "User", "Group", and "ServiceAccount".',
    ),
    apiGroup: str(
      'APIGroup holds the API group of the referenced subject. Defaults to "" for ServiceAccount subjects. Defaults to "rbac.authorization.k8s.io" for User and Group subjects.',
    ),
    name: str('Name of the object being referenced.'),
    namespace: str(
      'Namespace of the referenced object. If the object kind is non-namespace, such as "User" or "Group", and this value is not empty the Authorizer should report an error.',
    ),
  },
  { required: ['kind', 'name'], extra: { 'x-kubernetes-map-type': 'atomic' } },
);

export const RoleRefSchema = object(
  'io.k8s.api.rbac.v1.RoleRef',
  'RoleRef contains information that points to the role being used',
  {
    apiGroup: str('APIGroup is the group for the resource being referenced'),
    kind: str('Kind is the type of resource being referenced'),
    name: str('Name is the name of resource being referenced'),
  },
  { required: ['apiGroup', 'kind', 'name'], extra: { 'x-kubernetes-map-type': 'atomic' } },
);

export type PolicyRule = Static<typeof PolicyRuleSchema>;
export type Subject = Static<typeof SubjectSchema>;
export type RoleRef = Static<typeof RoleRefSchema>;

/** Upstream `ValidatePolicyRule`. */
export function validatePolicyRules(
  causes: StatusCause[],
  rules: readonly PolicyRule[] | undefined,
  path: string,
  namespaced: boolean,
): void {
  (rules ?? []).forEach((r, i) => {
    const p = `${path}[${i}]`;
    if (!r.verbs || r.verbs.length === 0)
      causes.push(requiredCause(`${p}.verbs`, 'verbs must contain at least one value'));
    const hasNonResource = (r.nonResourceURLs?.length ?? 0) > 0;
    if (hasNonResource) {
      if (namespaced)
        causes.push(
          invalidCause(
            `${p}.nonResourceURLs`,
            r.nonResourceURLs,
            'namespaced rules cannot apply to non-resource URLs',
          ),
        );
      if ((r.apiGroups?.length ?? 0) > 0 || (r.resources?.length ?? 0) > 0) {
        causes.push(
          invalidCause(
            `${p}.nonResourceURLs`,
            r.nonResourceURLs,
            'rules cannot apply to both regular resources and non-resource URLs',
          ),
        );
      }
      return;
    }
    if ((r.apiGroups?.length ?? 0) === 0)
      causes.push(requiredCause(`${p}.apiGroups`, 'resource rules must supply at least one api group'));
    if ((r.resources?.length ?? 0) === 0)
      causes.push(requiredCause(`${p}.resources`, 'resource rules must supply at least one resource'));
  });
}

/** Upstream `ValidateRoleBindingSubject`. */
export function validateSubjects(
  causes: StatusCause[],
  subjects: readonly Subject[] | undefined,
  requireNamespace: boolean,
): void {
  (subjects ?? []).forEach((s, i) => {
    const p = `subjects[${i}]`;
    if (!s.name) causes.push(requiredCause(`${p}.name`));
    switch (s.kind) {
      case 'ServiceAccount':
        if (s.name)
          for (const msg of checkPathSegmentName(s.name)) causes.push(invalidCause(`${p}.name`, s.name, msg));
        if (s.apiGroup) causes.push(notSupportedCause(`${p}.apiGroup`, s.apiGroup, ['']));
        if (!s.namespace && requireNamespace) causes.push(requiredCause(`${p}.namespace`));
        else if (s.namespace)
          for (const msg of checkDns1123Label(s.namespace))
            causes.push(invalidCause(`${p}.namespace`, s.namespace, msg));
        break;
      case 'User':
      case 'Group':
        if (s.apiGroup !== RBAC_GROUP)
          causes.push(notSupportedCause(`${p}.apiGroup`, s.apiGroup ?? '', [RBAC_GROUP]));
        break;
      default:
        causes.push(notSupportedCause(`${p}.kind`, s.kind ?? '', ['ServiceAccount', 'User', 'Group']));
    }
  });
}

/** Upstream `ValidateRoleBinding` roleRef rules. */
export function validateRoleRef(
  causes: StatusCause[],
  ref: RoleRef | undefined,
  kinds: readonly string[],
): void {
  if (!ref) {
    causes.push(requiredCause('roleRef'));
    return;
  }
  if (ref.apiGroup !== RBAC_GROUP)
    causes.push(notSupportedCause('roleRef.apiGroup', ref.apiGroup ?? '', [RBAC_GROUP]));
  checkSupported(causes, 'roleRef.kind', ref.kind ?? '', kinds);
  if (!ref.name) causes.push(requiredCause('roleRef.name'));
  else
    for (const msg of checkPathSegmentName(ref.name))
      causes.push(invalidCause('roleRef.name', ref.name, msg));
}

/** Defaults User/Group subjects to the RBAC API group (upstream `SetDefaults_Subject`). */
export function applySubjectDefaults(subjects: Subject[] | undefined): void {
  for (const s of subjects ?? []) {
    if (s.apiGroup === undefined || s.apiGroup === '') {
      if (s.kind === 'User' || s.kind === 'Group') s.apiGroup = RBAC_GROUP;
      else if (s.kind === 'ServiceAccount') s.apiGroup = '';
    }
  }
}

/** Comma-joined subject names of one kind (`-o wide` USERS/GROUPS/SERVICEACCOUNTS). */
export function subjectsCell(subjects: readonly Subject[] | undefined, kind: string): string {
  return (subjects ?? [])
    .filter((s) => s.kind === kind)
    .map((s) => (kind === 'ServiceAccount' ? `${s.namespace ?? ''}/${s.name ?? ''}` : (s.name ?? '')))
    .join(', ');
}
