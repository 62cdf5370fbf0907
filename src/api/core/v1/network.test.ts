import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { admit, admitWithStatus, causeLines } from '../../testing/admission.js';
import type { KubeObject } from '../../kind-definition.js';
import { networkKind, type Network } from './network.js';

const seed = {
  apiVersion: 'v1',
  kind: 'Network',
  metadata: { name: 'net2' },
  spec: {
    tenantID: '065f210a2ca9442aad898ab129426350',
    subnets: { subnet2: { cidr: '192.168.0.0/24', gateway: '192.168.0.1' } },
  },
};

function withSubnets(subnets: Record<string, unknown>): Record<string, unknown> {
  return { ...seed, spec: { ...seed.spec, subnets } };
}

describe('Network', () => {
  it('accepts the seed manifest verbatim and starts Initializing', () => {
    const r = admit(networkKind, seed);
    assert.deepEqual(causeLines(r), []);
    assert.equal((r.object as unknown as Network).status?.phase, 'Initializing');
    assert.equal(networkKind.namespaced, false);
    assert.equal(networkKind.group, '');
    assert.deepEqual(networkKind.shortNames, ['net']);
  });

  it('accepts a manifest that carries status.phase, and checks the phase a status update sets', () => {
    const created = admit(networkKind, { ...seed, status: { phase: 'Active' } });
    assert.deepEqual(causeLines(created), []);
    assert.deepEqual(created.object['status'], { phase: 'Initializing' });
    assert.deepEqual(causeLines(admitWithStatus(networkKind, { ...seed, status: { phase: 'Active' } })), []);
    assert.deepEqual(causeLines(admitWithStatus(networkKind, { ...seed, status: { phase: 'Sleeping' } })), [
      'status.phase: Unsupported value: "Sleeping": supported values: "Initializing", "Pending", "Active", "Failed", "Terminating"',
    ]);
  });

  it('rejects a bad CIDR, a gateway outside the subnet and overlapping subnets', () => {
    assert.deepEqual(
      causeLines(admit(networkKind, withSubnets({ s: { cidr: '192.168.0.0/33', gateway: '192.168.0.1' } }))),
      [
        'spec.subnets[s].cidr: Invalid value: "192.168.0.0/33": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)',
      ],
    );
    assert.deepEqual(
      causeLines(admit(networkKind, withSubnets({ s: { cidr: '192.168.0.0/24', gateway: '10.0.0.1' } }))),
      [
        'spec.subnets[s].gateway: Invalid value: "10.0.0.1": must be inside the subnet\'s cidr 192.168.0.0/24',
      ],
    );
    assert.deepEqual(causeLines(admit(networkKind, withSubnets({ s: { cidr: '192.168.0.1/24' } }))), [
      'spec.subnets[s].cidr: Invalid value: "192.168.0.1/24": must be a network address (host bits must be zero)',
    ]);
    assert.deepEqual(
      causeLines(admit(networkKind, withSubnets({ a: { cidr: '10.0.0.0/16' }, b: { cidr: '10.0.1.0/24' } }))),
      ['spec.subnets[b].cidr: Invalid value: "10.0.1.0/24": overlaps subnet "a" of this network'],
    );
  });

  it('requires a tenant and subnets', () => {
    assert.deepEqual(causeLines(admit(networkKind, { ...seed, spec: {} })), [
      'spec.tenantID: Required value',
      'spec.subnets: Required value: must specify at least one subnet, or providerNetworkID',
    ]);
  });

  it('keeps the tenant and existing subnets immutable but allows new subnets', () => {
    const old = admit(networkKind, seed).object;
    const moved = structuredClone(old) as unknown as Network;
    (moved.spec as { tenantID: string }).tenantID = 'other';
    assert.deepEqual(causeLines(admit(networkKind, moved, { old })), [
      'spec.tenantID: Invalid value: "other": field is immutable',
    ]);
    const grown = structuredClone(old) as unknown as Network;
    (grown.spec?.subnets as Record<string, unknown>)['subnet3'] = {
      cidr: '192.168.1.0/24',
      gateway: '192.168.1.1',
    };
    assert.deepEqual(causeLines(admit(networkKind, grown, { old })), []);
    const shrunk = structuredClone(old) as unknown as Network;
    (shrunk.spec as { subnets: Record<string, unknown> }).subnets = { other: { cidr: '10.1.0.0/24' } };
    assert.deepEqual(causeLines(admit(networkKind, shrunk, { old })), [
      'spec.subnets[subnet2]: Forbidden: existing subnets may not be removed',
    ]);
  });

  it('prints TENANT, SUBNETS and PHASE', () => {
    const obj = admit(networkKind, seed, { nowMs: Date.UTC(2024, 0, 1) }).object as KubeObject;
    assert.deepEqual(
      networkKind.columns.map((c) => c.name),
      ['Name', 'Tenant', 'Subnets', 'Phase', 'Age'],
    );
    assert.deepEqual(networkKind.row(obj, Date.UTC(2024, 0, 1, 3, 2)), [
      'net2',
      '065f210a2ca9442aad898ab129426350',
      'subnet2=192.168.0.0/24',
      'Initializing',
      '3h2m',
    ]);
  });
});
