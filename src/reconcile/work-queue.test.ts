import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../lib/index.js';
import { createWorkQueue } from './index.js';

describe('work queue', () => {
  it('hands out keys in order and deduplicates keys that wait', async () => {
    const q = createWorkQueue();
    q.add('a');
    q.add('b');
    q.add('a');
    assert.equal(q.length, 2);
    assert.equal(await q.get(), 'a');
    assert.equal(await q.get(), 'b');
    assert.equal(q.processingLength, 2);
  });

  it('never hands out a key twice at once and re-queues a key added while it is processed', async () => {
    const q = createWorkQueue();
    q.add('a');
    const key = await q.get();
    assert.equal(key, 'a');
    q.add('a');
    q.add('a');
    assert.equal(q.length, 0, 'held back while processing');
    q.done('a');
    assert.equal(q.length, 1, 'queued once at done');
    assert.equal(await q.get(), 'a');
    q.done('a');
    assert.equal(q.length, 0);
  });

  it('wakes a waiting get when a key arrives', async () => {
    const q = createWorkQueue();
    const pending = q.get();
    q.add('x');
    assert.equal(await pending, 'x');
  });

  it('resolves waiting gets with undefined on shutdown and ignores later adds', async () => {
    const q = createWorkQueue();
    const pending = q.get();
    q.shutDown();
    assert.equal(await pending, undefined);
    q.add('x');
    assert.equal(q.length, 0);
    assert.equal(await q.get(), undefined);
  });

  it('resolves a waiting get with undefined when its signal aborts', async () => {
    const q = createWorkQueue();
    const ac = new AbortController();
    const pending = q.get(ac.signal);
    ac.abort();
    assert.equal(await pending, undefined);
    q.add('x');
    assert.equal(q.length, 1, 'the aborted waiter did not take the key');
  });

  it('delays keys with addAfter on the injected clock, earliest delay winning', () => {
    const clock = new ManualClock();
    const q = createWorkQueue({ clock });
    q.addAfter('a', 100);
    q.addAfter('a', 50);
    q.addAfter('a', 200);
    assert.equal(q.delayedLength, 1);
    clock.advance(49);
    assert.equal(q.length, 0);
    clock.advance(1);
    assert.equal(q.length, 1);
    assert.equal(q.delayedLength, 0);
    clock.advance(500);
    assert.equal(q.length, 1, 'the later delays were dropped');
  });

  it('backs off each key exponentially until it is forgotten', () => {
    const clock = new ManualClock();
    const q = createWorkQueue({ clock, backoffInitialMs: 10, backoffMaxMs: 35 });
    assert.equal(q.addRateLimited('a'), 10);
    assert.equal(q.addRateLimited('a'), 20);
    assert.equal(q.addRateLimited('a'), 35, 'capped');
    assert.equal(q.numRequeues('a'), 3);
    assert.equal(q.addRateLimited('b'), 10, 'keys back off independently');
    q.forget('a');
    assert.equal(q.numRequeues('a'), 0);
    assert.equal(q.addRateLimited('a'), 10);
  });

  it('drops pending delays on shutdown', () => {
    const clock = new ManualClock();
    const q = createWorkQueue({ clock });
    q.addAfter('a', 10);
    q.shutDown();
    assert.equal(clock.pendingTimers, 0);
    clock.advance(100);
    assert.equal(q.length, 0);
  });
});
