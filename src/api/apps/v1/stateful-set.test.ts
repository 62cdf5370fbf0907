import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { admit, causeLines } from '../../testing/admission.js';
import { sampleManifests } from '../../testing/sample-manifests.js';
import { statefulSetKind, type StatefulSet } from './stateful-set.js';

describe('StatefulSet', () => {
  it('defaults policies and claim templates', () => {
    const s = admit(statefulSetKind, sampleManifests['StatefulSet']).object as unknown as StatefulSet;
    assert.equal(s.spec?.podManagementPolicy, 'OrderedReady');
    assert.deepEqual(s.spec?.updateStrategy, { type: 'RollingUpdate', rollingUpdate: { partition: 0 } });
    assert.deepEqual(s.spec?.persistentVolumeClaimRetentionPolicy, {
      whenDeleted: 'Retain',
      whenScaled: 'Retain',
    });
    assert.equal(s.spec?.volumeClaimTemplates?.[0]?.spec?.volumeMode, 'Filesystem');
  });

  it('forbids changing serviceName or volumeClaimTemplates but allows replicas and template', () => {
    const old = admit(statefulSetKind, sampleManifests['StatefulSet']).object;
    const ok = structuredClone(old) as unknown as StatefulSet;
    (ok.spec as { replicas: number }).replicas = 3;
    (ok.spec?.template?.spec?.containers?.[0] as { image: string }).image = 'postgres:17';
    assert.deepEqual(causeLines(admit(statefulSetKind, ok, { old })), []);
    const bad = structuredClone(old) as unknown as StatefulSet;
    (bad.spec as { serviceName: string }).serviceName = 'db2';
    assert.match(
      causeLines(admit(statefulSetKind, bad, { old }))[0] ?? '',
      /^spec: Forbidden: updates to statefulset spec for fields other than 'replicas'/,
    );
  });
});
