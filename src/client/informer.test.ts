import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createMemoryLogger, ManualClock, waitFor } from '../lib/index.js';
import type { KubeObject } from '../api/index.js';
import { builtinResources, createApiClient, createInformer, metadataOnly, type ApiClient } from './index.js';
import { sendJson, startWireFake, statusBody, type WireFake } from './testing/wire-fake.js';

const cm = (name: string, rv: string, data: Record<string, string> = {}): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: {
    name,
    namespace: 'ns1',
    uid: `uid-${name}`,
    resourceVersion: rv,
    managedFields: [{ manager: 'x' }],
  },
  data,
});

/**
 * Back-off, relist and resync delays come from the injected clock: the tests move it forward
 * while they wait, so nothing depends on how fast this machine is.
 */
function advancing(clock: ManualClock, stepMs: number, done: () => boolean): () => boolean {
  return () => {
    if (done()) return true;
    clock.advance(stepMs);
    return false;
  };
}

describe('informer wire behaviour', () => {
  let fake: WireFake;
  let client: ApiClient;
  before(async () => {
    fake = await startWireFake();
    client = createApiClient({ server: fake.url, timeoutMs: 2_000 });
  });
  after(async () => {
    client.close();
    await fake.close();
  });

  it('lists, watches, relists on Expired, and reports the differences', async () => {
    let watches = 0;
    let lists = 0;
    fake.handle((req, res) => {
      if (req.query.get('watch') !== 'true') {
        lists++;
        const items = lists === 1 ? [cm('a', '5'), cm('b', '6')] : [cm('a', '11', { k: 'v' }), cm('c', '12')];
        return sendJson(res, 200, {
          kind: 'ConfigMapList',
          apiVersion: 'v1',
          metadata: { resourceVersion: lists === 1 ? '10' : '12' },
          items,
        });
      }
      watches++;
      res.writeHead(200, { 'Content-Type': 'application/json' });
      if (watches === 1) {
        assert.equal(req.query.get('resourceVersion'), '10');
        res.write(JSON.stringify({ type: 'MODIFIED', object: cm('a', '11', { k: 'v' }) }) + '\n');
        res.end();
      } else if (watches === 2) {
        assert.equal(req.query.get('resourceVersion'), '11', 'resumes from the last event');
        res.end(
          JSON.stringify({
            type: 'ERROR',
            object: statusBody(410, 'Expired', 'too old resource version: 11 (20)'),
          }) + '\n',
        );
      } else {
        assert.equal(req.query.get('resourceVersion'), '12');
        // keep open
      }
    });
    const { log } = createMemoryLogger();
    const clock = new ManualClock();
    const informer = createInformer({
      client,
      resource: builtinResources.configMaps,
      namespace: 'ns1',
      log,
      clock,
      backoffInitialMs: 5,
    });
    const seen: string[] = [];
    informer.addEventHandler({
      onAdd: (o, initial) => seen.push(`add ${o.metadata.name}${initial ? ' initial' : ''}`),
      onUpdate: (o, n) =>
        seen.push(`update ${o.metadata.name} ${o.metadata.resourceVersion}->${n.metadata.resourceVersion}`),
      onDelete: (o, unknown) => seen.push(`delete ${o.metadata.name}${unknown ? ' unknown' : ''}`),
    });
    const ac = new AbortController();
    const running = informer.run(ac.signal);
    try {
      await informer.waitForSync(ac.signal);
      await waitFor(
        advancing(clock, 5, () => watches >= 3),
        { timeoutMs: 5_000, description: 'the third watch' },
      );
      assert.deepEqual(seen, [
        'add a initial',
        'add b initial',
        'update a 5->11',
        'add c',
        'delete b unknown',
      ]);
      assert.deepEqual(informer.cache.keys().sort(), ['ns1/a', 'ns1/c']);
      assert.equal(informer.lastResourceVersion(), '12');
      assert.ok(Object.isFrozen(informer.cache.find('ns1/a')?.metadata), 'cached objects are frozen');
      assert.throws(() => {
        (informer.cache.find('ns1/a') as KubeObject).metadata.name = 'x';
      }, TypeError);
      assert.equal(informer.cache.listByNamespace('ns1').length, 2);
    } finally {
      ac.abort();
      await running;
    }
  });

  it('keeps its cache while the server is unreachable and resumes from the last revision', async () => {
    let phase: 'up' | 'down' = 'up';
    const watchRvs: string[] = [];
    fake.handle((req, res) => {
      if (phase === 'down') {
        res.socket?.destroy();
        return;
      }
      if (req.query.get('watch') !== 'true') {
        return sendJson(res, 200, {
          kind: 'ConfigMapList',
          apiVersion: 'v1',
          metadata: { resourceVersion: '20' },
          items: [cm('a', '20')],
        });
      }
      watchRvs.push(req.query.get('resourceVersion') ?? '');
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.flushHeaders();
      if (watchRvs.length === 1) {
        res.write(JSON.stringify({ type: 'ADDED', object: cm('b', '21') }) + '\n');
        // the server "goes away"
        phase = 'down';
        setTimeout(() => res.socket?.destroy(), 10);
        setTimeout(() => {
          phase = 'up';
        }, 200);
      }
    });
    const { log, records } = createMemoryLogger();
    const clock = new ManualClock();
    const informer = createInformer({
      client,
      resource: builtinResources.configMaps,
      log,
      clock,
      backoffInitialMs: 10,
      backoffMaxMs: 50,
      transform: metadataOnly,
    });
    const ac = new AbortController();
    const running = informer.run(ac.signal);
    try {
      await waitFor(
        advancing(clock, 50, () => watchRvs.length >= 2),
        {
          timeoutMs: 5_000,
          description: 'a watch after the outage',
        },
      );
      assert.equal(watchRvs[1], '21', 'resumed from the last event, no relist');
      assert.deepEqual(informer.cache.keys().sort(), ['ns1/a', 'ns1/b']);
      assert.equal(informer.cache.find('ns1/a')?.['data'], undefined, 'transform applied');
      assert.equal(informer.cache.find('ns1/a')?.metadata.managedFields, undefined);
      assert.ok(
        records.some((r) => r.level === 'warn' && r.msg === 'Informer lost the API server; retrying'),
      );
      await waitFor(
        advancing(clock, 50, () => records.some((r) => r.msg === 'Informer recovered')),
        { timeoutMs: 2_000 },
      );
    } finally {
      ac.abort();
      await running;
    }
  });

  it('replays the cache to a handler added after sync and resyncs on schedule', async () => {
    fake.handle((req, res) => {
      if (req.query.get('watch') !== 'true') {
        return sendJson(res, 200, {
          kind: 'ConfigMapList',
          apiVersion: 'v1',
          metadata: { resourceVersion: '3' },
          items: [cm('a', '3')],
        });
      }
      res.writeHead(200, { 'Content-Type': 'application/json' });
    });
    const clock = new ManualClock();
    const informer = createInformer({ client, resource: builtinResources.configMaps, resyncMs: 20, clock });
    const ac = new AbortController();
    const running = informer.run(ac.signal);
    try {
      await informer.waitForSync();
      const seen: string[] = [];
      informer.addEventHandler({
        onAdd: (o, i) => seen.push(`add ${o.metadata.name} ${i}`),
        onUpdate: (o, n) => seen.push(`resync ${o === n}`),
      });
      assert.deepEqual(seen, ['add a true']);
      assert.ok(!seen.includes('resync true'), 'no resync before its time');
      clock.advance(20);
      assert.ok(seen.includes('resync true'), 'a resync once the clock reaches resyncMs');
    } finally {
      ac.abort();
      await running;
    }
  });
});
