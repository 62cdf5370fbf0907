import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../kind-definition.js';
import { admit, causeLines } from '../../testing/admission.js';
import { sampleManifests } from '../../testing/sample-manifests.js';
import { replicaSetKind, type ReplicaSet } from './replica-set.js';

const NOW = Date.UTC(2024, 0, 1, 0, 5);

describe('ReplicaSet', () => {
  it('defaults replicas and the pod template', () => {
    const rs = admit(replicaSetKind, sampleManifests['ReplicaSet']).object as unknown as ReplicaSet;
    assert.equal(rs.spec?.replicas, 1);
    const c = rs.spec?.template?.spec?.containers?.[0];
    assert.equal(c?.imagePullPolicy, 'Always');
    assert.equal(rs.spec?.template?.spec?.restartPolicy, 'Always');
  });

  it('rejects negative replicas, a selector that misses the template and selector changes', () => {
    const bad = structuredClone(sampleManifests['ReplicaSet']) as unknown as ReplicaSet;
    (bad.spec as { replicas: number }).replicas = -1;
    (bad.spec as { selector: unknown }).selector = { matchLabels: { app: 'other' } };
    assert.deepEqual(causeLines(admit(replicaSetKind, bad)), [
      'spec.replicas: Invalid value: -1: must be greater than or equal to 0',
      'spec.template.metadata.labels: Invalid value: {"app":"web"}: `selector` does not match template `labels`',
    ]);
    const old = admit(replicaSetKind, sampleManifests['ReplicaSet']).object;
    const moved = structuredClone(old) as unknown as ReplicaSet;
    (moved.spec as { selector: unknown }).selector = { matchLabels: { app: 'web', tier: 'x' } };
    (moved.spec?.template?.metadata as { labels: Record<string, string> }).labels = { app: 'web', tier: 'x' };
    assert.deepEqual(causeLines(admit(replicaSetKind, moved, { old })), [
      'spec.selector: Invalid value: {"matchLabels":{"app":"web","tier":"x"}}: field is immutable',
    ]);
  });

  it('renders DESIRED CURRENT READY AGE and the wide columns', () => {
    const rs = admit(replicaSetKind, sampleManifests['ReplicaSet']).object as KubeObject & ReplicaSet;
    (rs as { status: unknown }).status = { replicas: 1, readyReplicas: 1 };
    assert.deepEqual(replicaSetKind.row(rs, NOW), ['web-5d4', 1, 1, 1, '5m', 'web', 'nginx', 'app=web']);
  });
});
