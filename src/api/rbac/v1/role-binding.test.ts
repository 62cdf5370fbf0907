import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { admit, causeLines } from '../../testing/admission.js';
import { sampleManifests } from '../../testing/sample-manifests.js';
import type { KubeObject } from '../../kind-definition.js';
import { clusterRoleBindingKind } from './cluster-role-binding.js';
import { roleBindingKind, type RoleBinding } from './role-binding.js';
import { roleKind } from './role.js';

describe('RBAC', () => {
  it('defaults subject API groups and prints ROLE and subjects', () => {
    const obj = admit(roleBindingKind, sampleManifests['RoleBinding'], { nowMs: 0 }).object as KubeObject;
    assert.equal((obj as unknown as RoleBinding).subjects?.[0]?.apiGroup, 'rbac.authorization.k8s.io');
    assert.deepEqual(roleBindingKind.row(obj, 5000), [
      'read-pods',
      'Role/pod-reader',
      '5s',
      'jane',
      '',
      'default/builder',
    ]);
  });

  it('keeps roleRef immutable', () => {
    const old = admit(roleBindingKind, sampleManifests['RoleBinding']).object;
    const next = structuredClone(old) as unknown as RoleBinding;
    (next.roleRef as { name: string }).name = 'admin';
    assert.match(
      causeLines(admit(roleBindingKind, next, { old }))[0] ?? '',
      /^roleRef: Invalid value: .*: cannot change roleRef$/,
    );
  });

  it('validates rules, subjects and role references', () => {
    const role = {
      ...structuredClone(sampleManifests['Role']),
      rules: [
        { verbs: [], resources: ['pods'] },
        { verbs: ['get'], nonResourceURLs: ['/x'] },
      ],
    };
    assert.deepEqual(causeLines(admit(roleKind, role)), [
      'rules[0].verbs: Required value: verbs must contain at least one value',
      'rules[0].apiGroups: Required value: resource rules must supply at least one api group',
      'rules[1].nonResourceURLs: Invalid value: ["/x"]: namespaced rules cannot apply to non-resource URLs',
    ]);
    const crb = {
      ...structuredClone(sampleManifests['ClusterRoleBinding']),
      subjects: [
        { kind: 'ServiceAccount', name: 'x' },
        { kind: 'Robot', name: 'r' },
      ],
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'x' },
    };
    assert.deepEqual(causeLines(admit(clusterRoleBindingKind, crb)), [
      'roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole"',
      'subjects[0].namespace: Required value',
      'subjects[1].kind: Unsupported value: "Robot": supported values: "ServiceAccount", "User", "Group"',
    ]);
  });

  it('allows colons in RBAC names', () => {
    assert.deepEqual(
      causeLines(
        admit(roleKind, {
          ...structuredClone(sampleManifests['Role']),
          metadata: { name: 'system:pod-reader', namespace: 'default' },
        }),
      ),
      [],
    );
  });
});
