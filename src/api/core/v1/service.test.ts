import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { admit, causeLines } from '../../testing/admission.js';
import type { KubeObject } from '../../kind-definition.js';
import { serviceKind, type Service } from './service.js';

const NOW = Date.UTC(2024, 0, 1);
const svc = (spec: Record<string, unknown>, status?: Record<string, unknown>) => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'web', namespace: 'default' },
  spec,
  ...(status ? { status } : {}),
});

describe('Service', () => {
  it('defaults type, affinity, protocol and targetPort', () => {
    const r = admit(serviceKind, svc({ selector: { app: 'web' }, ports: [{ port: 80 }] }));
    assert.deepEqual(causeLines(r), []);
    const spec = (r.object as unknown as Service).spec;
    assert.equal(spec?.type, 'ClusterIP');
    assert.equal(spec?.sessionAffinity, 'None');
    assert.deepEqual(spec?.ports, [{ port: 80, protocol: 'TCP', targetPort: 80 }]);
    assert.equal(spec?.internalTrafficPolicy, 'Cluster');
    assert.deepEqual(spec?.ipFamilies, ['IPv4']);
  });

  it('accepts the seed NetworkProvider service with externalIPs', () => {
    const r = admit(
      serviceKind,
      svc({
        type: 'NetworkProvider',
        selector: { app: 'nginx' },
        externalIPs: ['203.0.113.10'],
        ports: [{ port: 8078, targetPort: 80, name: 'http' }],
      }),
    );
    assert.deepEqual(causeLines(r), []);
    const row = serviceKind.row(r.object as KubeObject, NOW);
    assert.deepEqual(row, [
      'web',
      'NetworkProvider',
      '<none>',
      '203.0.113.10',
      '8078/TCP',
      '0s',
      'app=nginx',
    ]);
  });

  it('rejects bad ports, types and external IPs', () => {
    const lines = causeLines(
      admit(
        serviceKind,
        svc({
          type: 'Magic',
          externalIPs: ['300.1.1.1'],
          ports: [{ port: 80 }, { port: 70000, name: 'x', targetPort: 'Not_A_Name' }],
        }),
      ),
    );
    assert.ok(
      lines.includes(
        'spec.type: Unsupported value: "Magic": supported values: "ClusterIP", "NodePort", "LoadBalancer", "ExternalName", "NetworkProvider"',
      ),
      lines.join('\n'),
    );
    assert.ok(lines.includes('spec.ports[0].name: Required value'), lines.join('\n'));
    assert.ok(
      lines.includes('spec.ports[1].port: Invalid value: 70000: must be between 1 and 65535, inclusive'),
      lines.join('\n'),
    );
    assert.ok(
      lines.some((l) => l.startsWith('spec.ports[1].targetPort: Invalid value: "Not_A_Name"')),
      lines.join('\n'),
    );
    assert.ok(
      lines.some((l) =>
        l.startsWith('spec.externalIPs[0]: Invalid value: "300.1.1.1": must be a valid IP address'),
      ),
      lines.join('\n'),
    );
  });

  it('requires ports except for headless and ExternalName services', () => {
    assert.deepEqual(causeLines(admit(serviceKind, svc({ selector: { a: 'b' } }))), [
      'spec.ports: Required value',
    ]);
    assert.deepEqual(causeLines(admit(serviceKind, svc({ clusterIP: 'None', selector: { a: 'b' } }))), []);
    assert.deepEqual(
      causeLines(admit(serviceKind, svc({ type: 'ExternalName', externalName: 'db.example.com' }))),
      [],
    );
    assert.deepEqual(causeLines(admit(serviceKind, svc({ type: 'ExternalName' }))), [
      'spec.externalName: Required value',
    ]);
  });

  it('keeps clusterIP immutable once allocated', () => {
    const old = admit(
      serviceKind,
      svc({ clusterIP: '10.96.0.10', ports: [{ port: 53, protocol: 'UDP' }] }),
    ).object;
    const next = structuredClone(old) as unknown as Service;
    (next.spec as { clusterIP: string }).clusterIP = '10.96.0.11';
    (next.spec as { clusterIPs: string[] }).clusterIPs = ['10.96.0.11'];
    assert.deepEqual(causeLines(admit(serviceKind, next, { old })), [
      'spec.clusterIP: Invalid value: "10.96.0.11": field is immutable',
    ]);
  });

  it('prints node ports and pending load balancers like kubectl', () => {
    const lb = admit(
      serviceKind,
      svc({ type: 'LoadBalancer', clusterIP: '10.96.0.20', ports: [{ port: 443, nodePort: 30443 }] }),
    ).object as KubeObject;
    assert.deepEqual(serviceKind.row(lb, NOW).slice(1, 5), [
      'LoadBalancer',
      '10.96.0.20',
      '<pending>',
      '443:30443/TCP',
    ]);
  });
});
