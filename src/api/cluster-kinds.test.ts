/** Defaults, causes and rows of the smaller kinds: PV, StorageClass, RuntimeClass, EndpointSlice, Lease. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from './kind-definition.js';
import { persistentVolumeKind } from './core/v1/persistent-volume.js';
import { storageClassKind } from './storage/v1/storage-class.js';
import { runtimeClassKind } from './node/v1/runtime-class.js';
import { endpointSliceKind } from './discovery/v1/endpoint-slice.js';
import { leaseKind } from './coordination/v1/lease.js';
import { admit, causeLines } from './testing/admission.js';
import { sampleManifests } from './testing/sample-manifests.js';

const NOW = Date.UTC(2024, 0, 3);

function sample(kind: string): Record<string, unknown> {
  return structuredClone(sampleManifests[kind]) as Record<string, unknown>;
}

describe('PersistentVolume', () => {
  it('defaults reclaim policy, volume mode and phase, and renders its row', () => {
    const pv = admit(persistentVolumeKind, sampleManifests['PersistentVolume']).object;
    const spec = pv['spec'] as Record<string, unknown>;
    assert.equal(spec['persistentVolumeReclaimPolicy'], 'Retain');
    assert.equal(spec['volumeMode'], 'Filesystem');
    assert.deepEqual(pv['status'], { phase: 'Pending' });
    assert.deepEqual(persistentVolumeKind.row(pv, NOW), [
      'pv1',
      '1Gi',
      'RWO',
      'Retain',
      'Pending',
      '',
      '',
      '<unset>',
      '',
      '2d',
      'Filesystem',
    ]);
  });

  it('requires capacity, access modes and exactly one source', () => {
    const bad = sample('PersistentVolume');
    bad['spec'] = { hostPath: { path: '/data' }, local: { path: '/x' } };
    assert.deepEqual(causeLines(admit(persistentVolumeKind, bad)), [
      'spec.capacity: Required value',
      'spec.accessModes: Required value',
      'spec.local: Forbidden: may not specify more than 1 volume type',
      'spec.nodeAffinity: Required value: Local volumes require node affinity',
    ]);
  });
});

describe('StorageClass', () => {
  it('defaults policies, marks the default class and keeps provisioner immutable', () => {
    const manifest = sample('StorageClass');
    manifest['metadata'] = {
      name: 'cinder',
      annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' },
    };
    const sc = admit(storageClassKind, manifest).object;
    assert.deepEqual(storageClassKind.row(sc, NOW), [
      'cinder (default)',
      'h8s.io/cinder',
      'Delete',
      'Immediate',
      false,
      '2d',
    ]);
    const moved = structuredClone(sc);
    moved['provisioner'] = 'other.io/x';
    assert.deepEqual(causeLines(admit(storageClassKind, moved, { old: sc })), [
      'provisioner: Invalid value: "other.io/x": field is immutable',
    ]);
  });
});

describe('RuntimeClass', () => {
  it('requires a DNS-1123 label handler that never changes', () => {
    const bad = sample('RuntimeClass');
    bad['handler'] = 'Hyper_V';
    assert.match(
      causeLines(admit(runtimeClassKind, bad))[0] ?? '',
      /^handler: Invalid value: "Hyper_V": a lowercase RFC 1123 label/,
    );
    const rc = admit(runtimeClassKind, sampleManifests['RuntimeClass']).object;
    assert.deepEqual(runtimeClassKind.row(rc, NOW), ['hyper', 'hyper', '2d']);
    const changed = { ...structuredClone(rc), handler: 'runc' } as KubeObject;
    assert.deepEqual(causeLines(admit(runtimeClassKind, changed, { old: rc })), [
      'handler: Invalid value: "runc": field is immutable',
    ]);
  });
});

describe('EndpointSlice', () => {
  it('defaults port protocol, checks addresses against addressType and renders the slice', () => {
    const s = admit(endpointSliceKind, sampleManifests['EndpointSlice']).object;
    assert.deepEqual(s['ports'], [{ name: 'http', port: 8080, protocol: 'TCP' }]);
    assert.deepEqual(endpointSliceKind.row(s, NOW), ['web-abc', 'IPv4', '8080', '10.0.0.5', '2d']);
    const many = structuredClone(s);
    many['endpoints'] = [{ addresses: ['10.0.0.1', '10.0.0.2'] }, { addresses: ['10.0.0.3', '10.0.0.4'] }];
    assert.equal(endpointSliceKind.row(many, NOW)[3], '10.0.0.1,10.0.0.2,10.0.0.3 + 1 more...');
    const bad = sample('EndpointSlice');
    bad['endpoints'] = [{ addresses: ['fd00::1'] }, { addresses: [] }];
    assert.deepEqual(causeLines(admit(endpointSliceKind, bad)), [
      'endpoints[0].addresses[0]: Invalid value: "fd00::1": must be an IPv4 address',
      'endpoints[1].addresses: Required value: must contain at least 1 address',
    ]);
  });
});

describe('Lease', () => {
  it('rejects a non-positive duration and shows the holder', () => {
    const bad = sample('Lease');
    (bad['spec'] as Record<string, unknown>)['leaseDurationSeconds'] = 0;
    assert.deepEqual(causeLines(admit(leaseKind, bad)), [
      'spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0',
    ]);
    const lease = admit(leaseKind, sampleManifests['Lease']).object;
    assert.deepEqual(leaseKind.row(lease, NOW), ['node-1', 'node-1', '2d']);
  });
});
