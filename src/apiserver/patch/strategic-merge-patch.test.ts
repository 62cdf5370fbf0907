import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isBadRequest } from '../../lib/index.js';
import { schemaNodeFor } from '../../api/index.js';
import { testWidgetSchema } from '../testing/test-schema.js';
import { applyStrategicMergePatch } from './strategic-merge-patch.js';

const schema = schemaNodeFor(testWidgetSchema);

function smp(original: unknown, patch: unknown): Record<string, unknown> {
  return applyStrategicMergePatch(original, patch, schema) as Record<string, unknown>;
}

const base = {
  apiVersion: 'v1',
  kind: 'Widget',
  metadata: { name: 'w', labels: { a: '1', b: '2' }, finalizers: ['x', 'y'] },
  spec: {
    replicas: 1,
    tags: ['t1', 't2'],
    containers: [
      { name: 'web', image: 'nginx:1', env: [{ name: 'A', value: '1' }], args: ['--a'] },
      { name: 'side', image: 'busybox' },
    ],
    volumes: [{ name: 'data', emptyDir: {} }],
    strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%' } },
  },
};

describe('strategic merge patch', () => {
  it('merges maps and deletes keys set to null', () => {
    const out = smp(base, { metadata: { labels: { a: null, c: '3' } } });
    assert.deepEqual((out['metadata'] as Record<string, unknown>)['labels'], { b: '2', c: '3' });
  });

  it('does not modify its inputs', () => {
    const original = structuredClone(base);
    const patch = { spec: { containers: [{ name: 'web', image: 'nginx:2' }] } };
    const patchCopy = structuredClone(patch);
    smp(original, patch);
    assert.deepEqual(original, base);
    assert.deepEqual(patch, patchCopy);
  });

  it('merges list elements by their merge key; without $setElementOrder patch items lead, as upstream', () => {
    const out = smp(base, {
      spec: {
        containers: [
          { name: 'web', image: 'nginx:2' },
          { name: 'new', image: 'redis' },
        ],
      },
    });
    const containers = (out['spec'] as { containers: Record<string, unknown>[] }).containers;
    assert.deepEqual(
      containers.map((c) => [c['name'], c['image']]),
      [
        ['web', 'nginx:2'],
        ['new', 'redis'],
        ['side', 'busybox'],
      ],
    );
    // Fields the patch does not mention survive the element merge.
    assert.deepEqual(containers[0]?.['env'], [{ name: 'A', value: '1' }]);
  });

  it('merges nested keyed lists (env inside a container)', () => {
    const out = smp(base, { spec: { containers: [{ name: 'web', env: [{ name: 'B', value: '2' }] }] } });
    const web = (out['spec'] as { containers: Record<string, unknown>[] }).containers[0];
    // Upstream puts items that only the patch names before server-only items.
    assert.deepEqual(web?.['env'], [
      { name: 'B', value: '2' },
      { name: 'A', value: '1' },
    ]);
    const ordered = smp(base, {
      spec: {
        containers: [
          {
            name: 'web',
            '$setElementOrder/env': [{ name: 'A' }, { name: 'B' }],
            env: [{ name: 'B', value: '2' }],
          },
        ],
      },
    });
    assert.deepEqual((ordered['spec'] as { containers: Record<string, unknown>[] }).containers[0]?.['env'], [
      { name: 'A', value: '1' },
      { name: 'B', value: '2' },
    ]);
  });

  it('deletes a list element with $patch: delete', () => {
    const out = smp(base, { spec: { containers: [{ name: 'side', $patch: 'delete' }] } });
    const containers = (out['spec'] as { containers: Record<string, unknown>[] }).containers;
    assert.deepEqual(
      containers.map((c) => c['name']),
      ['web'],
    );
  });

  it('replaces a whole list with a $patch: replace element', () => {
    const out = smp(base, { spec: { containers: [{ name: 'only', image: 'x' }, { $patch: 'replace' }] } });
    assert.deepEqual((out['spec'] as Record<string, unknown>)['containers'], [{ name: 'only', image: 'x' }]);
  });

  it('replaces a map with $patch: replace and empties it with $patch: delete', () => {
    const replaced = smp(base, { metadata: { labels: { z: '9', $patch: 'replace' } } });
    assert.deepEqual((replaced['metadata'] as Record<string, unknown>)['labels'], { z: '9' });
    const deleted = smp(base, { metadata: { labels: { $patch: 'delete' } } });
    assert.deepEqual((deleted['metadata'] as Record<string, unknown>)['labels'], {});
  });

  it('orders a merged list by $setElementOrder', () => {
    const out = smp(base, {
      spec: {
        '$setElementOrder/containers': [{ name: 'side' }, { name: 'web' }],
        containers: [{ name: 'web', image: 'nginx:3' }],
      },
    });
    const containers = (out['spec'] as { containers: Record<string, unknown>[] }).containers;
    assert.deepEqual(
      containers.map((c) => [c['name'], c['image']]),
      [
        ['side', 'busybox'],
        ['web', 'nginx:3'],
      ],
    );
  });

  it('merges primitive lists with merge strategy as sets and honours $deleteFromPrimitiveList', () => {
    const merged = smp(base, { metadata: { finalizers: ['y', 'z'] } });
    assert.deepEqual((merged['metadata'] as Record<string, unknown>)['finalizers'], ['x', 'y', 'z']);
    const removed = smp(base, { metadata: { '$deleteFromPrimitiveList/finalizers': ['x'] } });
    assert.deepEqual((removed['metadata'] as Record<string, unknown>)['finalizers'], ['y']);
  });

  it('replaces lists without a merge strategy', () => {
    const out = smp(base, { spec: { tags: ['only'], containers: [{ name: 'web', args: ['--b'] }] } });
    const spec = out['spec'] as { tags: string[]; containers: Record<string, unknown>[] };
    assert.deepEqual(spec.tags, ['only']);
    assert.deepEqual(spec.containers[0]?.['args'], ['--b']);
  });

  it('drops keys not named by $retainKeys', () => {
    const out = smp(base, {
      spec: {
        strategy: { $retainKeys: ['type'], type: 'Recreate', rollingUpdate: null },
        volumes: [{ name: 'data', hostPath: { path: '/srv' }, $retainKeys: ['hostPath', 'name'] }],
      },
    });
    const spec = out['spec'] as Record<string, unknown>;
    assert.deepEqual(spec['strategy'], { type: 'Recreate' });
    assert.deepEqual(spec['volumes'], [{ name: 'data', hostPath: { path: '/srv' } }]);
  });

  it('applies the patch kubectl apply computes for a changed image', () => {
    const patch = {
      metadata: { annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}' } },
      spec: {
        '$setElementOrder/containers': [{ name: 'web' }, { name: 'side' }],
        containers: [{ image: 'nginx:9', name: 'web' }],
      },
    };
    const out = smp(base, patch);
    const spec = out['spec'] as { containers: Record<string, unknown>[] };
    assert.equal(spec.containers[0]?.['image'], 'nginx:9');
    assert.equal(spec.containers.length, 2);
    assert.deepEqual((out['metadata'] as Record<string, unknown>)['annotations'], {
      'kubectl.kubernetes.io/last-applied-configuration': '{}',
    });
  });

  it('adds fields the original lacks without leaking directives or nulls', () => {
    const out = smp(
      { apiVersion: 'v1', kind: 'Widget', metadata: { name: 'w' } },
      {
        spec: {
          containers: [{ name: 'a', image: 'i', env: [{ name: 'X', value: null }] }],
          extra: { k: null, j: 1 },
        },
      },
    );
    assert.deepEqual(out['spec'], {
      containers: [{ name: 'a', image: 'i', env: [{ name: 'X' }] }],
      extra: { j: 1 },
    });
  });

  it('rejects keyed-list elements without their merge key and unknown directives', () => {
    assert.throws(() => smp(base, { spec: { containers: [{ image: 'x' }] } }), isBadRequest);
    assert.throws(() => smp(base, { metadata: { labels: { $patch: 'explode' } } }), isBadRequest);
    assert.throws(() => smp(base, ['not', 'an', 'object']), isBadRequest);
  });
});
