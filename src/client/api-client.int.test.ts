import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  findH8sError,
  isAlreadyExists,
  isConflict,
  isGone,
  isInvalid,
  isNotFound,
  isUnauthorized,
  waitFor,
} from '../lib/index.js';
import type { KubeObject } from '../api/index.js';
import { builtinResources, createApiClient, type ApiClient, type WatchEvent } from './index.js';
import { startTestServer, type TestServer } from './testing/test-server.js';

const ns = 'client-int';

describe('API client against a real h8s server', () => {
  let server: TestServer;
  let client: ApiClient;
  let dataDir: string;

  before(async () => {
    // A store that compacts everything but the last few revisions every 200 ms, so a 410 is reachable.
    dataDir = await mkdtemp(join(tmpdir(), 'h8s-client-int-'));
    server = await startTestServer({
      dataDir,
      extraArgs: [
        '--datastore',
        `sqlite://${dataDir}/state.db?compactIntervalMs=200&compactKeepRevisions=5&compactKeepMs=0`,
      ],
    });
    client = server.client;
    await client
      .resource(builtinResources.namespaces)
      .create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  });
  after(async () => {
    if (server) {
      if (process.exitCode) console.error(`data dir ${server.dataDir}\n${server.output().slice(-4000)}`);
      await server.cleanup();
    }
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('creates, reads, lists by label, updates and deletes', async () => {
    const cms = client.resource(builtinResources.configMaps, ns);
    const created = await cms.create({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'one', labels: { tier: 'a' } },
      data: { k: 'v' },
    });
    assert.ok(created.metadata.uid);
    assert.ok(created.metadata.resourceVersion);
    await cms.create({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'two', labels: { tier: 'b' } },
    });
    const got = await cms.get('one');
    assert.deepEqual(got['data'], { k: 'v' });
    const tierA = await cms.list({ labelSelector: 'tier in (a)' });
    assert.deepEqual(
      tierA.items.map((i) => i.metadata.name),
      ['one'],
    );
    const paged = await cms.listAll({ limit: 1 });
    assert.deepEqual(paged.items.map((i) => i.metadata.name).sort(), ['one', 'two']);
    const updated = await cms.update({ ...got, data: { k: 'w' } });
    assert.notEqual(updated.metadata.resourceVersion, got.metadata.resourceVersion);
    assert.equal(await cms.delete('two'), undefined);
    assert.equal(await cms.find('two'), undefined);
  });

  it('maps 404, 409 and 422 answers back to their codes and details', async () => {
    const cms = client.resource(builtinResources.configMaps, ns);
    const missing = await cms.get('nope').catch((e: unknown) => e);
    assert.ok(isNotFound(missing));
    assert.equal(findH8sError(missing)?.details.name, 'nope');
    assert.equal(findH8sError(missing)?.details.kind, 'configmaps');
    assert.equal(findH8sError(missing)?.message, 'configmaps "nope" not found');

    await cms.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'dup' } });
    const dup = await cms
      .create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'dup' } })
      .catch((e: unknown) => e);
    assert.ok(isAlreadyExists(dup));
    assert.equal(findH8sError(dup)?.httpStatus, 409);

    const current = await cms.get('dup');
    await cms.update({ ...current, data: { a: '1' } });
    const stale = await cms.update({ ...current, data: { a: '2' } }).catch((e: unknown) => e);
    assert.ok(isConflict(stale), `stale update is a Conflict, got ${String(stale)}`);
    assert.equal(findH8sError(stale)?.httpStatus, 409);

    const bad = await cms
      .create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'Not_A_Name' } })
      .catch((e: unknown) => e);
    assert.ok(isInvalid(bad));
    const causes = findH8sError(bad)?.details.causes ?? [];
    assert.ok(
      causes.some((c) => c.field === 'metadata.name'),
      `causes name metadata.name: ${JSON.stringify(causes)}`,
    );
  });

  it('maps a watch from a compacted revision to Gone (410)', async () => {
    const cms = client.resource(builtinResources.configMaps, ns);
    const old = (await cms.list()).metadata.resourceVersion;
    for (let i = 0; i < 10; i++) {
      await cms.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `churn-${i}` } });
    }
    const err = await waitFor(
      async () => {
        try {
          for await (const _ of cms.watch({ resourceVersion: old, signal: AbortSignal.timeout(2_000) })) {
            // events still available: not compacted yet
          }
          return undefined;
        } catch (e) {
          return isGone(e) ? e : undefined;
        }
      },
      { timeoutMs: 20_000, description: `revision ${old} to be compacted` },
    );
    assert.equal(findH8sError(err)?.httpStatus, 410);
    assert.match(findH8sError(err)?.message ?? '', /too old resource version/);
  });

  it('patches with json, merge and strategic patches', async () => {
    const cms = client.resource(builtinResources.configMaps, ns);
    await cms.create({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'patched' },
      data: { a: '1' },
    });
    await cms.patch('patched', [{ op: 'add', path: '/data/b', value: '2' }], { type: 'json' });
    await cms.patch('patched', { data: { c: '3' } }, { type: 'merge' });
    const final = await cms.patch('patched', { metadata: { labels: { x: 'y' } } }, { type: 'strategic' });
    assert.deepEqual(final['data'], { a: '1', b: '2', c: '3' });
    assert.deepEqual(final.metadata.labels, { x: 'y' });
  });

  it('watches creates, updates and deletes from a resourceVersion', async () => {
    const cms = client.resource(builtinResources.configMaps, ns);
    const start = await cms.list();
    const ac = new AbortController();
    const seen: WatchEvent[] = [];
    const watching = (async () => {
      try {
        for await (const ev of cms.watch({
          resourceVersion: start.metadata.resourceVersion,
          signal: ac.signal,
          allowWatchBookmarks: true,
        })) {
          if (ev.type === 'BOOKMARK') continue;
          seen.push(ev);
          if (ev.type === 'DELETED') break;
        }
      } catch (err) {
        if (!ac.signal.aborted) throw err;
      }
    })();
    const obj: KubeObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'watched' } };
    const made = await cms.create(obj);
    await cms.update({ ...made, data: { z: '1' } });
    await cms.delete('watched');
    const timer = setTimeout(() => ac.abort(), 10_000);
    await watching;
    clearTimeout(timer);
    assert.deepEqual(
      seen.map((e) => `${e.type} ${e.object.metadata.name}`),
      ['ADDED watched', 'MODIFIED watched', 'DELETED watched'],
    );
    assert.equal(seen[0]?.object.kind, 'ConfigMap');
  });

  it('discovers the served resources and maps kinds to them', async () => {
    const { resources, failures } = await client.discovery.listServerResources({ refresh: true });
    assert.deepEqual(failures, []);
    const pods = resources.find((r) => r.group === '' && r.plural === 'pods');
    assert.equal(pods?.kind, 'Pod');
    assert.equal(pods?.namespaced, true);
    assert.ok(pods?.subresources.includes('status'));
    assert.ok(pods?.verbs.includes('watch'));
    const namespaces = await client.discovery.getResourceFor('v1', 'Namespace');
    assert.equal(namespaces.namespaced, false);
    assert.ok(namespaces.subresources.includes('finalize'));
    const network = await client.discovery.getResourceFor('v1', 'Network');
    assert.equal(network.plural, 'networks');
    assert.equal(await client.discovery.findResourceFor('v1', 'NoSuchKind'), undefined);
  });

  it('is refused without a valid token', async () => {
    const anonymous = createApiClient({ ...server.credentials, token: 'wrong-token' });
    try {
      await assert.rejects(anonymous.resource(builtinResources.configMaps, ns).list(), isUnauthorized);
    } finally {
      anonymous.close();
    }
  });
});
