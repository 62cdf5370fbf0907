import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errorCode } from '../lib/index.js';
import { WatchQueue } from './watch-queue.js';

const event = (revision: number, size = 10) => ({
  type: 'put' as const,
  kv: { key: '/k', value: new Uint8Array(size), createRevision: revision, modRevision: revision },
  revision,
});

describe('WatchQueue', () => {
  it('hands items to a waiting consumer and queues them otherwise, in order', async () => {
    const q = new WatchQueue({ maxEvents: 10, maxBytes: 1 << 20 }, '"/k"');
    const pending = q.next();
    q.push(event(1));
    q.push(event(2));
    q.push(event(3));
    assert.equal((await pending).value?.revision, 1);
    assert.equal((await q.next()).value?.revision, 2);
    assert.equal((await q.next()).value?.revision, 3);
    q.end();
    assert.equal((await q.next()).done, true);
  });

  it('fails with Expired and drops its buffer when the consumer falls behind (by count or bytes)', async () => {
    let finished = 0;
    const byCount = new WatchQueue({ maxEvents: 3, maxBytes: 1 << 20 }, '"/k"', () => finished++);
    for (let i = 1; i <= 3; i++) assert.equal(byCount.push(event(i)), true);
    assert.equal(byCount.push(event(4)), false);
    await assert.rejects(byCount.next(), (err) => errorCode(err) === 'Expired');
    assert.equal((await byCount.next()).done, true);
    assert.equal(finished, 1);

    const byBytes = new WatchQueue({ maxEvents: 1000, maxBytes: 5000 }, '"/k"');
    assert.equal(byBytes.push(event(1, 3000)), true);
    assert.equal(byBytes.push(event(2, 3000)), false);
    await assert.rejects(byBytes.next(), (err) => errorCode(err) === 'Expired');
  });

  it('ends a waiting consumer on return() and calls onFinish once', async () => {
    let finished = 0;
    const q = new WatchQueue({ maxEvents: 10, maxBytes: 1 << 20 }, '"/k"', () => finished++);
    const pending = q.next();
    await q.return();
    assert.equal((await pending).done, true);
    q.end();
    q.fail(new Error('late'));
    assert.equal(finished, 1);
    assert.equal(q.push(event(1)), false);
  });
});
