import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { admit, causeLines } from '../../testing/admission.js';
import { sampleManifests } from '../../testing/sample-manifests.js';
import type { KubeObject } from '../../kind-definition.js';
import { persistentVolumeClaimKind, type PersistentVolumeClaim } from './persistent-volume-claim.js';

describe('PersistentVolumeClaim', () => {
  it('defaults volumeMode and starts Pending', () => {
    const c = admit(persistentVolumeClaimKind, sampleManifests['PersistentVolumeClaim'])
      .object as unknown as PersistentVolumeClaim;
    assert.equal(c.spec?.volumeMode, 'Filesystem');
    assert.equal(c.status?.phase, 'Pending');
  });

  it('requires access modes and a storage request', () => {
    const c = { ...structuredClone(sampleManifests['PersistentVolumeClaim']), spec: {} };
    assert.deepEqual(causeLines(admit(persistentVolumeClaimKind, c)), [
      'spec.accessModes: Required value: at least 1 access mode is required',
      'spec.resources[storage]: Required value',
    ]);
  });

  it('allows growing storage and binding, but not shrinking or other changes', () => {
    const old = admit(persistentVolumeClaimKind, sampleManifests['PersistentVolumeClaim']).object;
    const grown = structuredClone(old) as unknown as PersistentVolumeClaim;
    (grown.spec as { resources: unknown }).resources = { requests: { storage: '2Gi' } };
    (grown.spec as { volumeName: string }).volumeName = 'pv1';
    assert.deepEqual(causeLines(admit(persistentVolumeClaimKind, grown, { old })), []);
    const shrunk = structuredClone(old) as unknown as PersistentVolumeClaim;
    (shrunk.spec as { resources: unknown }).resources = { requests: { storage: '500Mi' } };
    assert.deepEqual(causeLines(admit(persistentVolumeClaimKind, shrunk, { old })), [
      'spec.resources.requests.storage: Forbidden: field can not be less than previous value',
    ]);
    const changed = structuredClone(old) as unknown as PersistentVolumeClaim;
    (changed.spec as { accessModes: string[] }).accessModes = ['ReadWriteMany'];
    assert.match(
      causeLines(admit(persistentVolumeClaimKind, changed, { old }))[0] ?? '',
      /^spec: Forbidden: spec is immutable after creation/,
    );
  });

  it('prints bound claims with capacity and access modes', () => {
    const obj = admit(persistentVolumeClaimKind, sampleManifests['PersistentVolumeClaim'], { nowMs: 0 })
      .object as KubeObject;
    const c = obj as unknown as PersistentVolumeClaim;
    (c.spec as { volumeName: string }).volumeName = 'pv1';
    c.status = { phase: 'Bound', capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'] };
    assert.deepEqual(persistentVolumeClaimKind.row(obj, 60_000), [
      'data',
      'Bound',
      'pv1',
      '1Gi',
      'RWO',
      '',
      '<unset>',
      '60s',
      'Filesystem',
    ]);
  });
});
