import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { admit, admitWithStatus, causeLines } from '../../testing/admission.js';
import { sampleManifests } from '../../testing/sample-manifests.js';
import type { KubeObject } from '../../kind-definition.js';
import { nodeKind, type Node } from './node.js';

describe('Node', () => {
  it('defaults allocatable to capacity', () => {
    const n = admitWithStatus(nodeKind, sampleManifests['Node']).object as unknown as Node;
    assert.deepEqual(n.status?.allocatable, { cpu: '2', memory: '4Gi', pods: '110' });
  });

  it('prints STATUS, ROLES and VERSION as kubectl does', () => {
    const obj = admitWithStatus(nodeKind, sampleManifests['Node'], { nowMs: Date.UTC(2024, 0, 1) })
      .object as KubeObject;
    const n = obj as unknown as Node;
    n.metadata = {
      ...n.metadata,
      labels: { 'node-role.kubernetes.io/control-plane': '', 'node-role.kubernetes.io/worker': 'true' },
    };
    (n.spec as { unschedulable: boolean }).unschedulable = true;
    (n.status as { nodeInfo: unknown }).nodeInfo = {
      kubeletVersion: 'v1.32.0-h8s',
      osImage: 'Debian GNU/Linux 12 (bookworm)',
      kernelVersion: '6.1.0',
      containerRuntimeVersion: 'h8s://0.1.0',
    };
    (n.status as { addresses: unknown }).addresses = [{ type: 'InternalIP', address: '10.0.0.2' }];
    assert.deepEqual(nodeKind.row(obj, Date.UTC(2024, 0, 3)), [
      'node-1',
      'Ready,SchedulingDisabled',
      'control-plane,worker',
      '2d',
      'v1.32.0-h8s',
      '10.0.0.2',
      '<none>',
      'Debian GNU/Linux 12 (bookworm)',
      '6.1.0',
      'h8s://0.1.0',
    ]);
    assert.equal(nodeKind.fieldSelectors['spec.unschedulable']?.(obj), 'true');
    (n.status as { conditions: unknown }).conditions = [{ type: 'Ready', status: 'Unknown' }];
    assert.equal(nodeKind.row(obj, 0)[1], 'NotReady,SchedulingDisabled');
  });

  it('validates taints', () => {
    const n = structuredClone(sampleManifests['Node']) as Record<string, unknown>;
    n['spec'] = {
      taints: [
        { key: 'dedicated', value: 'x', effect: 'NoSchedule' },
        { key: 'dedicated', effect: 'NoSchedule' },
        { key: 'bad key', effect: 'Sometimes' },
      ],
    };
    const lines = causeLines(admit(nodeKind, n));
    assert.ok(lines.includes('spec.taints[1]: Duplicate value: "dedicated=:NoSchedule"'), lines.join('\n'));
    assert.ok(
      lines.some((l) => l.startsWith('spec.taints[2].key: Invalid value: "bad key"')),
      lines.join('\n'),
    );
    assert.ok(
      lines.includes(
        'spec.taints[2].effect: Unsupported value: "Sometimes": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"',
      ),
      lines.join('\n'),
    );
  });
});
