/**
 * The write pool with real worker threads: prepared creates, errors with their stage, and
 * workers that crash or stall (their requests fail with InternalError; the pool replaces them).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { allKinds } from '../../api/index.js';
import { createMemoryLogger, H8sError, waitFor } from '../../lib/index.js';
import { testWidgetKind } from '../testing/test-schema.js';
import { WritePool } from './write-pool.js';

function body(value: unknown): Uint8Array {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));
}

const pod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'p1', labels: { app: 'x' } },
  spec: { containers: [{ name: 'c', image: 'busybox' }] },
};

function input(b: Uint8Array, extra: Partial<{ fieldValidation: 'Strict' | 'Warn' | 'Ignore' }> = {}) {
  return {
    kind: '/Pod',
    namespace: 'default',
    body: b,
    user: 'admin',
    fieldManager: 'tester',
    fieldValidation: extra.fieldValidation ?? 'Strict',
    nowMs: Date.parse('2026-01-02T03:04:05.678Z'),
    uid: '00000000-0000-4000-8000-000000000001',
  } as const;
}

describe('write pool', () => {
  const memory = createMemoryLogger('debug');
  let pool: WritePool;
  before(async () => {
    pool = new WritePool({ size: 1, log: memory.log });
    await pool.ready();
    assert.equal(pool.readyWorkers, 1, 'the worker did not start');
  });
  after(async () => {
    await pool?.stop();
  });

  it('serves only the built-in kinds', () => {
    assert.ok(pool.handles(allKinds().find((k) => k.kind === 'Pod')!));
    assert.equal(pool.handles(testWidgetKind), false);
  });

  it('prepares a create: system fields from the request, defaults, managedFields, stored bytes', async () => {
    const r = await pool.prepareCreate(input(body(pod)));
    assert.ok(r);
    const { prepared, warnings } = r;
    assert.deepEqual(warnings, []);
    assert.ok(prepared.ok);
    assert.equal(prepared.name, 'p1');
    assert.equal(prepared.generated, false);
    const stored = JSON.parse(Buffer.from(prepared.value).toString()) as {
      metadata: Record<string, unknown>;
      spec: { containers: { imagePullPolicy: string }[] };
    };
    assert.equal(stored.metadata['uid'], '00000000-0000-4000-8000-000000000001');
    assert.equal(stored.metadata['creationTimestamp'], '2026-01-02T03:04:05Z');
    assert.equal(stored.metadata['namespace'], 'default');
    assert.equal(stored.metadata['resourceVersion'], undefined);
    assert.equal((stored.metadata['managedFields'] as { manager: string }[])[0]?.manager, 'tester');
    assert.equal(stored.spec.containers[0]?.imagePullPolicy, 'Always');
  });

  it('returns decode errors (before admission) and validation errors (after it) with their Status', async () => {
    const bad = await pool.prepareCreate(input(body('{"apiVersion": "v1",')));
    assert.ok(bad && !bad.prepared.ok);
    assert.equal(bad.prepared.stage, 'decode');
    assert.ok(bad.prepared.error instanceof H8sError);
    assert.equal(bad.prepared.error.code, 'BadRequest');
    assert.match(bad.prepared.error.message, /not valid JSON/);

    const unknown = await pool.prepareCreate(input(body({ ...pod, spec: { ...pod.spec, bogus: 1 } })));
    assert.ok(unknown && !unknown.prepared.ok && unknown.prepared.error instanceof H8sError);
    assert.equal(unknown.prepared.stage, 'decode');
    assert.match(unknown.prepared.error.message, /strict decoding error: unknown field "spec.bogus"/);

    const warned = await pool.prepareCreate(
      input(body({ ...pod, spec: { ...pod.spec, bogus: 1 } }), { fieldValidation: 'Warn' }),
    );
    assert.ok(warned?.prepared.ok);
    assert.deepEqual(warned.warnings, ['unknown field "spec.bogus"']);

    const invalid = await pool.prepareCreate(
      input(body({ ...pod, metadata: { name: 'Bad_Name' }, spec: { containers: [] } })),
    );
    assert.ok(invalid && !invalid.prepared.ok && invalid.prepared.error instanceof H8sError);
    assert.equal(invalid.prepared.stage, 'validate');
    assert.equal(invalid.prepared.admissionName, 'Bad_Name');
    assert.equal(invalid.prepared.error.code, 'Invalid');
    const fields = (invalid.prepared.error.details.causes ?? []).map((c) => c.field);
    assert.ok(fields.includes('metadata.name'), JSON.stringify(fields));
    assert.ok(fields.includes('spec.containers'), JSON.stringify(fields));
  });

  it('generates names from generateName', async () => {
    const r = await pool.prepareCreate(input(body({ ...pod, metadata: { generateName: 'web-' } })));
    assert.ok(r?.prepared.ok);
    assert.match(r.prepared.name, /^web-[a-z0-9]{5}$/);
    assert.equal(r.prepared.generated, true);
    assert.equal(r.prepared.admissionName, 'web-');
  });

  it('answers every request of a batch that is sent early because of its size', async () => {
    const big = 'x'.repeat(1536 * 1024);
    const replies = await Promise.all(
      [0, 1, 2, 3].map((i) => {
        const b = {
          ...pod,
          metadata: { name: `big${i}`, annotations: { big: i % 2 === 0 ? big : 'small' } },
        };
        const r = pool.prepareCreate(input(body(b)));
        assert.ok(r);
        return r;
      }),
    );
    replies.forEach((r, i) => {
      if (i % 2 === 0) {
        assert.ok(!r.prepared.ok && r.prepared.error instanceof H8sError, `request ${i}`);
        assert.equal(r.prepared.error.code, 'Invalid');
        assert.equal(r.prepared.admissionName, `big${i}`);
      } else {
        assert.ok(r.prepared.ok, `request ${i}`);
        assert.equal(r.prepared.name, `big${i}`);
      }
    });
  });

  it('fails the requests of a worker that crashes with InternalError and starts another', async () => {
    const before = memory.records.length;
    pool.injectFault(0, 'crash', true);
    const pending = pool.prepareCreate(input(body(pod)));
    assert.ok(pending);
    await assert.rejects(pending, (err: unknown) => {
      assert.ok(err instanceof H8sError);
      assert.equal(err.code, 'InternalError');
      assert.match(err.message, /The write worker stopped: the write worker exited with code 1/);
      return true;
    });
    assert.ok(
      memory.records.slice(before).some((r) => r['msg'] === 'A write worker stopped; starting another'),
      JSON.stringify(memory.records.slice(before)),
    );
    await waitFor(() => pool.readyWorkers === 1, { timeoutMs: 60_000, description: 'a new worker' });
    const r = await pool.prepareCreate(input(body(pod)));
    assert.ok(r?.prepared.ok);
  });

  it('ends a worker that stops answering (InternalError) and starts another', async () => {
    // Its own pool: the timeout must be short here and generous for the other tests.
    const p = new WritePool({ size: 1, log: memory.log, requestTimeoutMs: 1500 });
    try {
      await p.ready();
      const warm = await p.prepareCreate(input(body(pod)));
      assert.ok(warm?.prepared.ok);
      p.injectFault(0, 'stall', true);
      const pending = p.prepareCreate(input(body(pod)));
      assert.ok(pending);
      await assert.rejects(pending, /The write worker stopped: a request took more than 1500 ms/);
      await waitFor(() => p.readyWorkers === 1, { timeoutMs: 60_000, description: 'a new worker' });
      const r = await p.prepareCreate(input(body(pod)));
      assert.ok(r?.prepared.ok);
    } finally {
      await p.stop();
    }
  });

  it('answers undefined (the caller works inline) when no worker is ready', async () => {
    const p = new WritePool({ size: 1, log: memory.log });
    try {
      assert.equal(p.prepareCreate(input(body(pod))), undefined);
    } finally {
      await p.stop();
    }
  });
});
