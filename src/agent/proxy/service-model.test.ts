import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Service } from '../../api/index.js';
import { proxyModel, type Slice } from './service-model.js';

const svc = (spec: NonNullable<Service['spec']>): Service => ({
  metadata: { name: 'web', namespace: 'shop' },
  spec,
});
const slice = (endpoints: NonNullable<Slice['endpoints']>, port = 8080): Slice => ({
  metadata: { namespace: 'shop', labels: { 'kubernetes.io/service-name': 'web' } },
  addressType: 'IPv4',
  ports: [{ name: 'http', port, protocol: 'TCP' }],
  endpoints,
});
const ep = (ip: string, ready: boolean, terminating = false, serving = ready, nodeName = 'n1') => ({
  addresses: [ip],
  conditions: { ready, serving, terminating },
  nodeName,
});

describe('service proxy model', () => {
  it('sends traffic to ready endpoints only, and to serving terminating ones when none is ready', () => {
    const s = svc({ clusterIP: '10.96.0.10', ports: [{ name: 'http', port: 80, protocol: 'TCP' }] });
    const [m] = proxyModel(
      [s],
      [slice([ep('10.1.0.1', true), ep('10.1.0.2', false), ep('10.1.0.3', false, true, true)])],
      'n1',
    );
    assert.deepEqual(
      m?.ports[0]?.clusterEndpoints.map((e) => `${e.ip}:${e.port}`),
      ['10.1.0.1:8080'],
    );
    const [drain] = proxyModel(
      [s],
      [slice([ep('10.1.0.3', false, true, true), ep('10.1.0.4', false, true, false)])],
      'n1',
    );
    assert.deepEqual(
      drain?.ports[0]?.clusterEndpoints.map((e) => e.ip),
      ['10.1.0.3'],
    );
  });

  it('honours traffic policies, NodePort and ClientIP affinity, and skips headless services', () => {
    const s = svc({
      type: 'NodePort',
      clusterIP: '10.96.0.10',
      externalTrafficPolicy: 'Local',
      sessionAffinity: 'ClientIP',
      ports: [{ name: 'http', port: 80, nodePort: 30080, protocol: 'TCP' }],
    });
    const [m] = proxyModel(
      [s],
      [slice([ep('10.1.0.1', true, false, true, 'n1'), ep('10.1.0.2', true, false, true, 'n2')])],
      'n1',
    );
    assert.equal(m?.ports[0]?.nodePort, 30080);
    assert.equal(m?.affinitySeconds, 10_800);
    assert.equal(m?.ports[0]?.clusterEndpoints.length, 2);
    assert.deepEqual(
      m?.ports[0]?.externalEndpoints.map((e) => e.ip),
      ['10.1.0.1'],
    );
    assert.deepEqual(proxyModel([svc({ clusterIP: 'None', ports: [{ port: 80 }] })], [], 'n1'), []);
  });
});
