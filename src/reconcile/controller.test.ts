import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock, createMemoryLogger, conflict, waitFor } from '../lib/index.js';
import { createController, createWorkQueue } from './index.js';

const settle = async (): Promise<void> => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
};

describe('controller loop', () => {
  it('reconciles each key, logs a failure once and retries it with back-off', async () => {
    const clock = new ManualClock();
    const queue = createWorkQueue({ clock, backoffInitialMs: 100, backoffMaxMs: 1_000 });
    const { log, records } = createMemoryLogger();
    const calls: string[] = [];
    let failuresLeft = 2;
    const controller = createController({
      name: 'test',
      queue,
      log,
      reconcile: async (key) => {
        calls.push(key);
        if (key === 'bad' && failuresLeft-- > 0) throw conflict('Object "bad" changed');
      },
    });
    const ac = new AbortController();
    const running = controller.run(ac.signal);
    queue.add('good');
    queue.add('bad');
    await settle();
    assert.deepEqual(calls, ['good', 'bad']);
    const warns = records.filter((r) => r.level === 'warn');
    assert.equal(warns.length, 1);
    assert.equal(warns[0]?.msg, 'Reconcile failed');
    assert.equal(warns[0]?.['key'], 'bad');
    assert.equal(warns[0]?.['code'], 'Conflict');
    assert.equal(warns[0]?.['retryInMs'], 100);
    clock.advance(99);
    await settle();
    assert.equal(calls.length, 2, 'not before its back-off');
    clock.advance(1);
    await settle();
    assert.equal(calls.length, 3);
    clock.advance(200);
    await settle();
    assert.deepEqual(calls, ['good', 'bad', 'bad', 'bad']);
    assert.equal(queue.numRequeues('bad'), 0, 'forgotten after success');
    ac.abort();
    await running;
  });

  it('requeues after the asked delay without logging, and with back-off on requeue', async () => {
    const clock = new ManualClock();
    const queue = createWorkQueue({ clock, backoffInitialMs: 10 });
    const { log, records } = createMemoryLogger();
    const calls: number[] = [];
    const controller = createController({
      name: 'test',
      queue,
      log,
      reconcile: async (key) => {
        calls.push(clock.monotonicMs());
        if (key === 'later' && calls.length === 1) return { requeueAfterMs: 500 };
        if (key === 'later' && calls.length === 2) return { requeue: true };
        return undefined;
      },
    });
    const ac = new AbortController();
    const running = controller.run(ac.signal);
    queue.add('later');
    await settle();
    clock.advance(500);
    await settle();
    clock.advance(10);
    await settle();
    assert.deepEqual(calls, [0, 500, 510]);
    assert.equal(records.filter((r) => r.level === 'warn').length, 0);
    ac.abort();
    await running;
  });

  it('runs several workers but never one key twice at once, and stops after in-flight work', async () => {
    const queue = createWorkQueue();
    let active = 0;
    let maxActive = 0;
    const activeKeys = new Set<string>();
    let overlap = false;
    const release: (() => void)[] = [];
    const controller = createController({
      name: 'test',
      queue,
      workers: 3,
      reconcile: async (key) => {
        if (activeKeys.has(key)) overlap = true;
        activeKeys.add(key);
        active++;
        maxActive = Math.max(maxActive, active);
        await new Promise<void>((r) => release.push(r));
        active--;
        activeKeys.delete(key);
      },
    });
    const ac = new AbortController();
    const running = controller.run(ac.signal);
    for (const k of ['a', 'b', 'c', 'd']) queue.add(k);
    queue.add('a');
    await waitFor(() => release.length === 3, { timeoutMs: 1_000 });
    assert.equal(maxActive, 3);
    while (release.length > 0 || queue.length > 0 || queue.processingLength > 0) {
      release.shift()?.();
      await settle();
    }
    assert.equal(overlap, false);
    ac.abort();
    await running;
  });
});
