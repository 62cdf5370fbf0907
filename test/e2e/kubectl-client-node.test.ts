/**
 * @kubernetes/client-node (2.0.1) against a real `h8s server` on sqlite: typed CRUD, its
 * default JSON-patch PATCH, the generic KubernetesObjectApi (per-group discovery), and an
 * informer whose cache stays right across a server restart on the same data dir.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as k8s from '@kubernetes/client-node';
import { waitFor } from '../../src/lib/index.js';
import { startServerProcess, type ServerProcess } from './helpers/api-server.js';

let server: ServerProcess;
let kc: k8s.KubeConfig;
let core: k8s.CoreV1Api;

function makeClients(): void {
  kc = new k8s.KubeConfig();
  kc.loadFromFile(server.kubeconfigPath);
  core = kc.makeApiClient(k8s.CoreV1Api);
}

before(async () => {
  server = await startServerProcess();
  makeClients();
  await core.createNamespace({ body: { metadata: { name: 'cn' } } });
});

after(async () => {
  if (server) {
    if (process.exitCode)
      console.error(`data dir ${server.dataDir}\n--- server output ---\n${server.output().slice(-6000)}`);
    await server.cleanup();
  }
});

function cm(name: string, data: Record<string, string>): k8s.V1ConfigMap {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'cn' }, data };
}

describe('@kubernetes/client-node', () => {
  it('creates, lists, reads, replaces, JSON-patches and deletes', async () => {
    const created = await core.createNamespacedConfigMap({ namespace: 'cn', body: cm('one', { a: '1' }) });
    assert.equal(created.metadata?.name, 'one');
    assert.ok(created.metadata?.uid);
    const list = await core.listNamespacedConfigMap({ namespace: 'cn' });
    assert.ok(list.items.some((i) => i.metadata?.name === 'one'));
    assert.match(list.metadata?.resourceVersion ?? '', /^\d+$/);
    const read = await core.readNamespacedConfigMap({ name: 'one', namespace: 'cn' });
    assert.deepEqual(read.data, { a: '1' });
    const replaced = await core.replaceNamespacedConfigMap({
      name: 'one',
      namespace: 'cn',
      body: { ...read, data: { a: '2' } },
    });
    assert.deepEqual(replaced.data, { a: '2' });
    // client-node sends application/json-patch+json for patch* by default.
    const patched = await core.patchNamespacedConfigMap({
      name: 'one',
      namespace: 'cn',
      body: [{ op: 'add', path: '/data/b', value: '3' }],
    });
    assert.deepEqual(patched.data, { a: '2', b: '3' });
    await core.deleteNamespacedConfigMap({ name: 'one', namespace: 'cn' });
    await assert.rejects(core.readNamespacedConfigMap({ name: 'one', namespace: 'cn' }), (err: unknown) => {
      assert.equal((err as { code?: number }).code, 404);
      return true;
    });
  });

  it('reports a stale resourceVersion on replace as 409', async () => {
    const created = await core.createNamespacedConfigMap({ namespace: 'cn', body: cm('stale', { a: '1' }) });
    await core.replaceNamespacedConfigMap({
      name: 'stale',
      namespace: 'cn',
      body: { ...created, data: { a: '2' } },
    });
    await assert.rejects(
      core.replaceNamespacedConfigMap({
        name: 'stale',
        namespace: 'cn',
        body: { ...created, data: { a: '3' } },
      }),
      (err: unknown) => {
        assert.equal((err as { code?: number }).code, 409);
        return true;
      },
    );
  });

  it('works through KubernetesObjectApi (discovery by group-version)', async () => {
    const objects = k8s.KubernetesObjectApi.makeApiClient(kc);
    const spec = {
      apiVersion: 'v1',
      kind: 'Network',
      metadata: { name: 'client-node-net' },
      spec: { tenantID: 'tenant-cn', subnets: { s1: { cidr: '10.1.0.0/24', gateway: '10.1.0.1' } } },
    };
    const created = await objects.create(spec);
    assert.equal(created.metadata?.name, 'client-node-net');
    const read = await objects.read({
      apiVersion: 'v1',
      kind: 'Network',
      metadata: { name: 'client-node-net' },
    });
    assert.equal((read as unknown as { spec: { tenantID: string } }).spec.tenantID, 'tenant-cn');
    const replaced = await objects.replace({ ...read, metadata: { ...read.metadata, labels: { x: 'y' } } });
    assert.deepEqual(replaced.metadata?.labels, { x: 'y' });
    await objects.delete({ apiVersion: 'v1', kind: 'Network', metadata: { name: 'client-node-net' } });
  });

  it('keeps an informer cache right across a server restart', async () => {
    await core.createNamespacedConfigMap({ namespace: 'cn', body: cm('inf-a', { v: '1' }) });
    await core.createNamespacedConfigMap({ namespace: 'cn', body: cm('inf-b', { v: '1' }) });
    const informer = k8s.makeInformer(kc, '/api/v1/namespaces/cn/configmaps', () =>
      core.listNamespacedConfigMap({ namespace: 'cn' }),
    );
    let restarting = false;
    let stopped = false;
    let errors = 0;
    informer.on('error', () => {
      errors++;
      if (restarting || stopped) return;
      restarting = true;
      // client-node stops on errors; restarting resumes from the last resourceVersion.
      setTimeout(() => {
        restarting = false;
        if (!stopped) void informer.start().catch(() => undefined);
      }, 300);
    });
    const snapshot = (): Record<string, string | undefined> =>
      Object.fromEntries(
        informer
          .list('cn')
          .filter((o) => o.metadata?.name?.startsWith('inf-'))
          .map((o) => [o.metadata?.name as string, o.data?.['v']]),
      );
    try {
      await informer.start();
      await waitFor(() => snapshot()['inf-b'] === '1', {
        timeoutMs: 15_000,
        description: 'the informer to list',
      });

      await server.stop();
      await server.start();
      makeClients();
      const fresh = core;
      await fresh.patchNamespacedConfigMap({
        name: 'inf-a',
        namespace: 'cn',
        body: [{ op: 'replace', path: '/data/v', value: '2' }],
      });
      await fresh.deleteNamespacedConfigMap({ name: 'inf-b', namespace: 'cn' });
      await fresh.createNamespacedConfigMap({ namespace: 'cn', body: cm('inf-c', { v: '1' }) });
      await waitFor(
        () => {
          const s = snapshot();
          return s['inf-a'] === '2' && !('inf-b' in s) && s['inf-c'] === '1';
        },
        {
          timeoutMs: 30_000,
          description: `the informer to catch up (cache ${JSON.stringify(snapshot())}, errors ${errors})`,
        },
      );
    } finally {
      stopped = true;
      await informer.stop();
    }
  });
});
