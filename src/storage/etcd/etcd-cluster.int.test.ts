import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { bestEffort, createLogger, isUnavailable, nullLogger, waitFor } from '../../lib/index.js';
import { type KeyValueStore, openKeyValueStore, type WatchEvent } from '../index.js';
import { type EtcdCluster, startEtcd } from '../testing/etcd-harness.js';
import { WatchReader } from '../testing/key-value-store-conformance.js';

const encoder = new TextEncoder();

/** Creates `key`, retrying while etcd is unavailable; an earlier attempt that did apply counts. */
async function createWithRetry(store: KeyValueStore, key: string, value: string): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    try {
      const r = await store.create(key, encoder.encode(value));
      if (r.ok) return r.revision;
      if (r.reason === 'exists' && r.current && Buffer.from(r.current.value).toString() === value) {
        return r.current.modRevision; // our own earlier attempt was applied
      }
      throw new Error(`create ${key} failed: ${r.reason}`);
    } catch (err) {
      if (!isUnavailable(err) || attempt > 200) throw err;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}

describe('etcd cluster', () => {
  let cluster: EtcdCluster | undefined;
  const stores: KeyValueStore[] = [];
  after(async () => {
    for (const s of stores) await s.close();
    await cluster?.stop();
  });

  it('writes and watches go on when the leader of a 3-member cluster is killed mid-stream', async (t) => {
    cluster = await startEtcd({ members: 3 });
    // Two "API servers", each with its own client, and several watches (each on its own
    // stream, so some of them are connected to the member that dies).
    const a = await openKeyValueStore(`${cluster.url}?compactIntervalMs=0`, { log: nullLogger });
    const b = await openKeyValueStore(`${cluster.url}?compactIntervalMs=0`, { log: nullLogger });
    stores.push(a, b);
    const prefix = '/cluster/';
    const start = await a.currentRevision();
    const watchers = Array.from(
      { length: 8 },
      (_, i) => new WatchReader((i % 2 ? b : a).watch(prefix, { fromRevision: start })),
    );
    const collected: WatchEvent[][] = watchers.map(() => []);
    const acked = new Map<string, number>();
    let isWriting = true;
    const writers = Array.from({ length: 6 }, async (_, w) => {
      const store = w % 2 ? b : a;
      for (let n = 0; isWriting; n++) {
        const key = `${prefix}w${w}/k${n}`;
        acked.set(key, await createWithRetry(store, key, `v-${w}-${n}`));
      }
    });
    const readers = watchers.map(async (r, i) => {
      for (;;) {
        const item = await r.next(30_000);
        if (item.done) return;
        if (item.value.type !== 'progress') (collected[i] as WatchEvent[]).push(item.value);
      }
    });
    // The readers end with an error when their member is killed; say so in the test's output.
    const readerLog = createLogger({ level: 'debug', sink: (r) => t.diagnostic(JSON.stringify(r)) });
    for (const p of readers) void bestEffort(readerLog, 'read a watch until the test ends', p);

    await waitFor(() => acked.size >= 100, { timeoutMs: 30_000, description: '100 writes before the kill' });
    const leader = await cluster.leader();
    assert.ok(leader, 'the cluster has a leader');
    await leader.kill();
    const atKill = acked.size;
    const killedAt = Date.now();
    t.diagnostic(`killed leader ${leader.name} after ${atKill} writes`);
    await waitFor(() => acked.size >= atKill + 100, {
      timeoutMs: 60_000,
      description: '100 more writes after the kill',
    });
    t.diagnostic(`100 more writes took ${Date.now() - killedAt} ms after the kill`);
    isWriting = false;
    await Promise.all(writers);
    const last = Math.max(...acked.values());

    // Every watcher, wherever it was connected, has every write, in order, without gaps.
    const truth = new WatchReader(a.watch(prefix, { fromRevision: start }));
    const history = (await truth.events(acked.size)).map((e) => e.revision);
    await truth.close();
    assert.deepEqual(
      [...history].sort((x, y) => x - y),
      history,
      'history is in revision order',
    );
    for (const rev of acked.values())
      assert.ok(history.includes(rev), `acknowledged revision ${rev} is in the history`);
    const catchUpStarted = Date.now();
    for (let i = 0; i < watchers.length; i++) {
      await waitFor(() => (collected[i] as WatchEvent[]).some((e) => e.revision >= last), {
        timeoutMs: 30_000,
        description: `watcher ${i} to reach revision ${last}`,
      });
      const revs = (collected[i] as WatchEvent[]).map((e) => e.revision);
      assert.deepEqual(revs.slice(0, history.length), history, `watcher ${i} saw exactly the history`);
    }
    t.diagnostic(`watchers caught up ${Date.now() - catchUpStarted} ms after the writes stopped`);
    for (const r of watchers) await r.close();
    // The survivors still serve reads and writes.
    assert.equal((await b.list(prefix, { countOnly: true })).count, acked.size);
    t.diagnostic(`${acked.size} writes acknowledged, ${acked.size - atKill} after the kill`);
  });
});
