/**
 * Lists and watches over loopback HTTP: paging at a fixed revision, resourceVersion semantics,
 * selectors, watch events with selector transitions, bookmarks, initial events, timeouts and
 * the 410 for compacted revisions.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../../lib/index.js';
import {
  startInProcessServer,
  type InProcessServer,
  type WatchHandle,
} from '../testing/in-process-server.js';

const ns = '/api/v1/namespaces/default/configmaps';

function cm(name: string, labels: Record<string, string> = {}): Record<string, unknown> {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, labels }, data: { v: '1' } };
}

function names(items: Record<string, unknown>[] | undefined): string[] {
  return (items ?? []).map((i) => (i['metadata'] as { name: string }).name);
}

async function until(w: WatchHandle, count: number): Promise<void> {
  await waitFor(() => w.events.length >= count, {
    timeoutMs: 10_000,
    description: `${count} watch events (have ${JSON.stringify(w.events.map((e) => e.type))})`,
  });
}

for (const backend of ['memory', 'sqlite'] as const) {
  describe(`lists and watches (${backend} store)`, () => {
    let s: InProcessServer;
    before(async () => {
      s = await startInProcessServer({
        store: backend,
        bookmarkIntervalMs: 200,
        storeOptions: 'compactIntervalMs=0',
      });
      await s.request('POST', '/api/v1/namespaces', {
        body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'paging' } },
      });
      for (let i = 0; i < 5; i++) {
        const r = await s.request('POST', '/api/v1/namespaces/paging/configmaps', { body: cm(`p${i}`) });
        assert.equal(r.status, 201, r.text);
      }
    });
    after(async () => {
      await s?.close();
    });

    it('pages with limit and continue, all pages from the same revision', async () => {
      const base = '/api/v1/namespaces/paging/configmaps';
      const first = await s.request('GET', `${base}?limit=2`);
      assert.equal(first.status, 200);
      assert.deepEqual(names(first.json.items), ['p0', 'p1']);
      const meta = first.json['metadata'] as {
        continue: string;
        remainingItemCount: number;
        resourceVersion: string;
      };
      assert.ok(meta.continue);
      assert.equal(meta.remainingItemCount, 3);
      // A write between pages must not show up in later pages.
      await s.request('POST', `${base}`, { body: cm('p2a') });
      const second = await s.request('GET', `${base}?limit=2&continue=${encodeURIComponent(meta.continue)}`);
      assert.deepEqual(names(second.json.items), ['p2', 'p3']);
      const m2 = second.json['metadata'] as { continue: string; resourceVersion: string };
      assert.equal(m2.resourceVersion, meta.resourceVersion);
      const third = await s.request('GET', `${base}?limit=2&continue=${encodeURIComponent(m2.continue)}`);
      assert.deepEqual(names(third.json.items), ['p4']);
      assert.equal((third.json['metadata'] as { continue?: string }).continue, undefined);
      const fresh = await s.request('GET', base);
      assert.deepEqual(names(fresh.json.items), ['p0', 'p1', 'p2', 'p2a', 'p3', 'p4']);
    });

    it('rejects continue with a resourceVersion and malformed tokens', async () => {
      const first = await s.request('GET', '/api/v1/namespaces/paging/configmaps?limit=1');
      const token = (first.json['metadata'] as { continue: string }).continue;
      const both = await s.request(
        'GET',
        `/api/v1/namespaces/paging/configmaps?limit=1&continue=${encodeURIComponent(token)}&resourceVersion=5`,
      );
      assert.equal(both.status, 400);
      assert.equal(both.json['message'], 'specifying resource version is not allowed when using continue');
      const junk = await s.request('GET', '/api/v1/namespaces/paging/configmaps?limit=1&continue=garbage');
      assert.equal(junk.status, 400);
    });

    it('pages with a label selector (filtering across store pages)', async () => {
      for (let i = 0; i < 6; i++) {
        await s.request('POST', ns, { body: cm(`sel${i}`, { parity: i % 2 === 0 ? 'even' : 'odd' }) });
      }
      const page = await s.request('GET', `${ns}?labelSelector=parity%3Deven&limit=2`);
      assert.deepEqual(names(page.json.items), ['sel0', 'sel2']);
      const token = (page.json['metadata'] as { continue: string }).continue;
      const rest = await s.request(
        'GET',
        `${ns}?labelSelector=parity%3Deven&limit=2&continue=${encodeURIComponent(token)}`,
      );
      assert.deepEqual(names(rest.json.items), ['sel4']);
      const setBased = await s.request(
        'GET',
        `${ns}?labelSelector=${encodeURIComponent('parity in (odd),parity notin (even)')}`,
      );
      assert.deepEqual(names(setBased.json.items), ['sel1', 'sel3', 'sel5']);
      const bad = await s.request('GET', `${ns}?labelSelector=${encodeURIComponent('a in (b')}`);
      assert.equal(bad.status, 400);
    });

    it('filters by field selectors and names unsupported field labels', async () => {
      const r = await s.request('GET', `${ns}?fieldSelector=metadata.name%3Dsel1`);
      assert.deepEqual(names(r.json.items), ['sel1']);
      const not = await s.request(
        'GET',
        `/api/v1/namespaces/paging/configmaps?fieldSelector=metadata.name!%3Dp0`,
      );
      assert.ok(!names(not.json.items).includes('p0'));
      const bad = await s.request('GET', `${ns}?fieldSelector=spec.nope%3Dx`);
      assert.equal(bad.status, 400);
      assert.equal(bad.json['message'], 'field label not supported: spec.nope');
      const pods = await s.request(
        'GET',
        '/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-1,status.phase!%3DFailed',
      );
      assert.equal(pods.status, 200, pods.text);
    });

    it('lists all namespaces on the cluster-wide path', async () => {
      const r = await s.request('GET', '/api/v1/configmaps?fieldSelector=metadata.namespace%3Dpaging');
      assert.equal(r.status, 200);
      assert.ok(names(r.json.items).includes('p0'));
      assert.ok(!names(r.json.items).includes('sel0'));
    });

    it('reads an exact past revision and refuses one from the future', async () => {
      const created = await s.request('POST', ns, { body: cm('hist') });
      const rv = (created.json['metadata'] as { resourceVersion: string }).resourceVersion;
      await s.request('DELETE', `${ns}/hist`);
      const past = await s.request('GET', `${ns}?resourceVersion=${rv}&resourceVersionMatch=Exact`);
      assert.equal(past.status, 200);
      assert.ok(names(past.json.items).includes('hist'));
      assert.equal((past.json['metadata'] as { resourceVersion: string }).resourceVersion, rv);
      const future = await s.request(
        'GET',
        `${ns}?resourceVersion=999999999&resourceVersionMatch=NotOlderThan`,
      );
      assert.equal(future.status, 504);
      assert.equal(future.json['reason'], 'Timeout');
      assert.match(future.json['message'] as string, /^Too large resource version: 999999999, current: \d+$/);
      const invalid = await s.request('GET', `${ns}?resourceVersion=abc`);
      assert.equal(invalid.status, 400);
      const matchWithout = await s.request('GET', `${ns}?resourceVersionMatch=Exact`);
      assert.equal(matchWithout.status, 400);
    });

    it('watches from "now": initial ADDED events, then changes; DELETED carries the delete revision', async () => {
      await s.request('POST', ns, { body: cm('w1') });
      const w = await s.watch(`${ns}?watch=true&fieldSelector=metadata.name%3Dw1`);
      assert.equal(w.status, 200);
      await until(w, 1);
      assert.equal(w.events[0]?.type, 'ADDED');
      const upd = await s.request('PATCH', `${ns}/w1`, {
        body: { data: { v: '2' } },
        contentType: 'application/merge-patch+json',
      });
      await until(w, 2);
      assert.equal(w.events[1]?.type, 'MODIFIED');
      assert.equal(
        (w.events[1]?.object['metadata'] as { resourceVersion: string }).resourceVersion,
        (upd.json['metadata'] as { resourceVersion: string }).resourceVersion,
      );
      await s.request('DELETE', `${ns}/w1`);
      await until(w, 3);
      assert.equal(w.events[2]?.type, 'DELETED');
      const delRv = Number((w.events[2]?.object['metadata'] as { resourceVersion: string }).resourceVersion);
      assert.ok(delRv > Number((upd.json['metadata'] as { resourceVersion: string }).resourceVersion));
      w.stop();
    });

    it('watches from a list revision without replaying the list', async () => {
      const list = await s.request('GET', ns);
      const rv = (list.json['metadata'] as { resourceVersion: string }).resourceVersion;
      const w = await s.watch(`${ns}?watch=1&resourceVersion=${rv}`);
      await s.request('POST', ns, { body: cm('after-list') });
      await until(w, 1);
      assert.equal(w.events[0]?.type, 'ADDED');
      assert.equal((w.events[0]?.object['metadata'] as { name: string }).name, 'after-list');
      w.stop();
    });

    it('turns selector transitions into ADDED and DELETED', async () => {
      await s.request('POST', ns, { body: cm('trans', { tier: 'front' }) });
      const list = await s.request('GET', ns);
      const rv = (list.json['metadata'] as { resourceVersion: string }).resourceVersion;
      const w = await s.watch(`${ns}?watch=true&resourceVersion=${rv}&labelSelector=tier%3Dback`);
      await s.request('PATCH', `${ns}/trans`, {
        body: { metadata: { labels: { tier: 'back' } } },
        contentType: 'application/merge-patch+json',
      });
      await until(w, 1);
      assert.equal(w.events[0]?.type, 'ADDED');
      await s.request('PATCH', `${ns}/trans`, {
        body: { metadata: { labels: { tier: 'front' } } },
        contentType: 'application/merge-patch+json',
      });
      await until(w, 2);
      assert.equal(w.events[1]?.type, 'DELETED');
      // The DELETED event shows the last matching state.
      assert.deepEqual((w.events[1]?.object['metadata'] as { labels: unknown }).labels, { tier: 'back' });
      w.stop();
    });

    it('sends bookmarks when allowed and ends after timeoutSeconds', async () => {
      const list = await s.request('GET', ns);
      const rv = (list.json['metadata'] as { resourceVersion: string }).resourceVersion;
      const w = await s.watch(
        `${ns}?watch=true&resourceVersion=${rv}&allowWatchBookmarks=true&timeoutSeconds=2`,
      );
      await until(w, 1);
      assert.equal(w.events[0]?.type, 'BOOKMARK');
      const bm = w.events[0]?.object as {
        kind: string;
        apiVersion: string;
        metadata: { resourceVersion: string };
      };
      assert.equal(bm.kind, 'ConfigMap');
      assert.equal(bm.apiVersion, 'v1');
      assert.ok(Number(bm.metadata.resourceVersion) >= Number(rv));
      await w.ended;
    });

    it('sends initial events and the initial-events-end bookmark with sendInitialEvents', async () => {
      const w = await s.watch(
        '/api/v1/namespaces/paging/configmaps?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true',
      );
      await waitFor(() => w.events.some((e) => e.type === 'BOOKMARK'), { timeoutMs: 10_000 });
      const end = w.events.findIndex((e) => e.type === 'BOOKMARK');
      assert.ok(end >= 5);
      assert.ok(w.events.slice(0, end).every((e) => e.type === 'ADDED'));
      const annotations = (w.events[end]?.object['metadata'] as { annotations: Record<string, string> })
        .annotations;
      assert.equal(annotations['k8s.io/initial-events-end'], 'true');
      w.stop();
      const invalid = await s.request('GET', `${ns}?watch=true&sendInitialEvents=true`);
      assert.equal(invalid.status, 422);
    });

    it('answers a watch from a compacted revision with one ERROR 410 event and closes', async () => {
      const created = await s.request('POST', ns, { body: cm('old') });
      const oldRv = Number((created.json['metadata'] as { resourceVersion: string }).resourceVersion);
      for (let i = 0; i < 3; i++) {
        await s.request('PATCH', `${ns}/old`, {
          body: { data: { i: String(i) } },
          contentType: 'application/merge-patch+json',
        });
      }
      await s.store.compact((await s.store.currentRevision()) - 1);
      const w = await s.watch(`${ns}?watch=true&resourceVersion=${oldRv - 1}`);
      assert.equal(w.status, 200);
      await w.ended;
      assert.equal(w.events.length, 1);
      assert.equal(w.events[0]?.type, 'ERROR');
      const st = w.events[0]?.object as { code: number; reason: string; message: string; kind: string };
      assert.equal(st.kind, 'Status');
      assert.equal(st.code, 410);
      assert.equal(st.reason, 'Expired');
      assert.match(st.message, /^too old resource version: \d+ \(\d+\)$/);
      const bad = await s.request('GET', `${ns}?watch=true&resourceVersion=xyz`);
      assert.equal(bad.status, 400);
      const exact = await s.request('GET', `${ns}?resourceVersion=${oldRv - 1}&resourceVersionMatch=Exact`);
      assert.equal(exact.status, 410);
      assert.equal(exact.json['reason'], 'Expired');
    });

    it('streams Table events for kubectl get -w, with column definitions only first', async () => {
      const list = await s.request('GET', ns);
      const rv = (list.json['metadata'] as { resourceVersion: string }).resourceVersion;
      const w = await s.watch(`${ns}?watch=true&resourceVersion=${rv}`, {
        accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json',
      });
      await s.request('POST', ns, { body: cm('tw1') });
      await s.request('POST', ns, { body: cm('tw2') });
      await until(w, 2);
      const t1 = w.events[0]?.object as {
        kind: string;
        columnDefinitions?: unknown[];
        rows: { cells: unknown[] }[];
      };
      const t2 = w.events[1]?.object as {
        kind: string;
        columnDefinitions?: unknown[];
        rows: { cells: unknown[] }[];
      };
      assert.equal(t1.kind, 'Table');
      assert.ok(Array.isArray(t1.columnDefinitions));
      assert.equal(t2.columnDefinitions, undefined);
      assert.equal(t2.rows[0]?.cells[0], 'tw2');
      w.stop();
    });

    it('watches one object by name on the legacy watch path', async () => {
      await s.request('POST', ns, { body: cm('legacy-w') });
      const w = await s.watch('/api/v1/watch/namespaces/default/configmaps/legacy-w');
      await until(w, 1);
      assert.equal(w.events[0]?.type, 'ADDED');
      assert.equal((w.events[0]?.object['metadata'] as { name: string }).name, 'legacy-w');
      w.stop();
    });
  });
}
