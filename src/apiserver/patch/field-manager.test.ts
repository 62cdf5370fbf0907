import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../api/index.js';
import { findH8sError, isConflict } from '../../lib/index.js';
import { schemaNodeFor } from '../../api/index.js';
import { testWidgetSchema } from '../testing/test-schema.js';
import { applyConfiguration, isNoOpChange, trackUpdate, type FieldManagerScope } from './field-manager.js';
import { FieldSet, pathToString } from './field-set.js';

const scope = (now = '2026-01-01T00:00:00Z'): FieldManagerScope => ({
  schema: schemaNodeFor(testWidgetSchema),
  apiVersion: 'example.h8s.io/v1',
  now,
});

function widget(spec: Record<string, unknown>, meta: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'example.h8s.io/v1',
    kind: 'Widget',
    metadata: { name: 'w', namespace: 'default', uid: 'u1', ...meta },
    spec,
  };
}

function managers(obj: KubeObject): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const e of obj.metadata.managedFields ?? []) {
    out[`${e.manager}/${e.operation}`] = FieldSet.fromFieldsV1(e.fieldsV1).paths().map(pathToString).sort();
  }
  return out;
}

describe('field manager', () => {
  it('gives the creator every field it set, but no server metadata', () => {
    const obj = widget(
      { replicas: 2, containers: [{ name: 'web', image: 'nginx' }] },
      { labels: { app: 'w' } },
    );
    trackUpdate(undefined, obj, 'kubectl-create', scope());
    assert.deepEqual(managers(obj), {
      'kubectl-create/Update': [
        '.metadata.labels.app',
        '.spec.containers[name="web"]',
        '.spec.containers[name="web"].image',
        '.spec.containers[name="web"].name',
        '.spec.replicas',
      ],
    });
    assert.equal(obj.metadata.managedFields?.[0]?.time, '2026-01-01T00:00:00Z');
    assert.equal(obj.metadata.managedFields?.[0]?.fieldsType, 'FieldsV1');
  });

  it('moves ownership of a changed field to the updater and drops removed fields', () => {
    const created = widget({ replicas: 2, paused: false });
    trackUpdate(undefined, created, 'creator', scope());
    const next = widget({ replicas: 3 });
    next.metadata.managedFields = created.metadata.managedFields ?? [];
    trackUpdate(created, next, 'scaler', scope('2026-01-01T00:01:00Z'));
    assert.deepEqual(managers(next), { 'scaler/Update': ['.spec.replicas'] });
  });

  it('applies a configuration, creating the Apply entry', () => {
    const cfg = widget({ replicas: 1, tags: ['a'] });
    const out = applyConfiguration(undefined, cfg, 'kubectl', { force: false }, scope());
    assert.deepEqual(managers(out), { 'kubectl/Apply': ['.spec.replicas', '.spec.tags'] });
    assert.deepEqual(out['spec'], { replicas: 1, tags: ['a'] });
  });

  it('reports a conflict with the field manager and path when another manager owns a changed field', () => {
    const live = widget({ replicas: 2 });
    trackUpdate(undefined, live, 'kubectl-client-side-apply', scope());
    let err: unknown;
    try {
      applyConfiguration(live, widget({ replicas: 5 }), 'kubectl', { force: false }, scope());
    } catch (e) {
      err = e;
    }
    assert.ok(isConflict(err), 'a Conflict');
    const h = findH8sError(err);
    assert.equal(
      h?.message,
      'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using example.h8s.io/v1 at 2026-01-01T00:00:00Z: .spec.replicas',
    );
    assert.deepEqual(h?.details.causes, [
      {
        reason: 'FieldManagerConflict',
        message: 'conflict with "kubectl-client-side-apply" using example.h8s.io/v1 at 2026-01-01T00:00:00Z',
        field: '.spec.replicas',
      },
    ]);
  });

  it('lists several conflicts per manager', () => {
    const live = widget({ replicas: 2, paused: true });
    trackUpdate(undefined, live, 'editor', scope());
    let message = '';
    try {
      applyConfiguration(live, widget({ replicas: 5, paused: false }), 'kubectl', { force: false }, scope());
    } catch (e) {
      message = findH8sError(e)?.message ?? '';
    }
    assert.equal(
      message,
      'Apply failed with 2 conflicts: conflicts with "editor" using example.h8s.io/v1 at 2026-01-01T00:00:00Z:\n- .spec.paused\n- .spec.replicas',
    );
  });

  it('shares ownership without conflict when the applied value equals the live one', () => {
    const live = widget({ replicas: 2 });
    trackUpdate(undefined, live, 'creator', scope());
    const out = applyConfiguration(live, widget({ replicas: 2 }), 'kubectl', { force: false }, scope());
    assert.deepEqual(managers(out), {
      'creator/Update': ['.spec.replicas'],
      'kubectl/Apply': ['.spec.replicas'],
    });
  });

  it('takes ownership with force', () => {
    const live = widget({ replicas: 2, paused: true });
    trackUpdate(undefined, live, 'creator', scope());
    const out = applyConfiguration(live, widget({ replicas: 5 }), 'kubectl', { force: true }, scope());
    assert.equal((out['spec'] as Record<string, unknown>)['replicas'], 5);
    assert.deepEqual(managers(out), {
      'creator/Update': ['.spec.paused'],
      'kubectl/Apply': ['.spec.replicas'],
    });
  });

  it('removes fields the applier no longer applies, unless another manager owns them', () => {
    const first = applyConfiguration(
      undefined,
      widget({ replicas: 1, tags: ['a'] }, { labels: { a: '1', b: '2' } }),
      'kubectl',
      { force: false },
      scope(),
    );
    // Another manager also sets label b to the same value.
    const shared = applyConfiguration(
      first,
      widget({}, { labels: { b: '2' } }),
      'other',
      { force: false },
      scope(),
    );
    const second = applyConfiguration(shared, widget({ replicas: 1 }), 'kubectl', { force: false }, scope());
    assert.deepEqual(second['spec'], { replicas: 1 });
    assert.deepEqual(second.metadata.labels, { b: '2' });
  });

  it('merges keyed lists when applying and removes items the applier dropped', () => {
    const first = applyConfiguration(
      undefined,
      widget({
        containers: [
          { name: 'a', image: '1' },
          { name: 'b', image: '1' },
        ],
      }),
      'kubectl',
      { force: false },
      scope(),
    );
    const withSidecar = structuredClone(first);
    (withSidecar['spec'] as { containers: unknown[] }).containers.push({ name: 'mesh', image: 'proxy' });
    trackUpdate(first, withSidecar, 'injector', scope());
    const out = applyConfiguration(
      withSidecar,
      widget({ containers: [{ name: 'a', image: '2' }] }),
      'kubectl',
      { force: false },
      scope(),
    );
    assert.deepEqual((out['spec'] as { containers: unknown[] }).containers, [
      { name: 'a', image: '2' },
      { name: 'mesh', image: 'proxy' },
    ]);
  });

  it('treats atomic structs as one field', () => {
    const out = applyConfiguration(
      undefined,
      widget({ selector: { matchLabels: { app: 'x' } } }),
      'kubectl',
      { force: false },
      scope(),
    );
    assert.deepEqual(managers(out), { 'kubectl/Apply': ['.spec.selector'] });
  });

  it('sees a change of managed-field timestamps alone as a no-op', () => {
    const a = widget({ replicas: 1 });
    trackUpdate(undefined, a, 'm', scope('2026-01-01T00:00:00Z'));
    const b = structuredClone(a);
    b.metadata.managedFields = [{ ...(a.metadata.managedFields?.[0] ?? {}), time: '2026-01-02T00:00:00Z' }];
    assert.ok(isNoOpChange(a, b));
    (b['spec'] as Record<string, unknown>)['replicas'] = 2;
    assert.ok(!isNoOpChange(a, b));
  });
});

describe('fieldsV1Of', () => {
  it('matches the field set of the same object', async () => {
    const { fieldSetOf, fieldsV1Of } = await import('./field-set.js');
    const obj = {
      metadata: { labels: { a: '1' }, annotations: {} },
      spec: {
        replicas: 2,
        tags: ['x'],
        selector: { matchLabels: { a: '1' } },
        containers: [
          {
            name: 'web',
            image: 'i',
            env: [{ name: 'A', value: '1' }],
            ports: [{ containerPort: 80, protocol: 'TCP' }],
          },
        ],
        extra: { free: { form: 1 } },
      },
    };
    const node = schemaNodeFor(testWidgetSchema);
    assert.deepEqual(fieldsV1Of(node, obj), fieldSetOf(node, obj).toFieldsV1());
  });
});
