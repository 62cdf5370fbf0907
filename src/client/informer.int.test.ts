import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createMemoryLogger, waitFor } from '../lib/index.js';
import type { KubeObject } from '../api/index.js';
import { builtinResources, createInformer, type ApiClient } from './index.js';
import { startTestServer, type TestServer } from './testing/test-server.js';

const ns = 'informer-int';

function configMap(name: string, data: Record<string, string>): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace: ns, labels: { app: 'inf' } },
    data,
  };
}

describe('informer against a real h8s server', () => {
  let server: TestServer;
  let client: ApiClient;

  before(async () => {
    server = await startTestServer();
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
  });

  it('keeps its cache right across a server restart', async () => {
    const cms = client.resource(builtinResources.configMaps, ns);
    await cms.create(configMap('before', { v: '1' }));
    const { log, records } = createMemoryLogger('info');
    const informer = createInformer({
      client,
      resource: builtinResources.configMaps,
      namespace: ns,
      labelSelector: 'app=inf',
      log,
      backoffInitialMs: 50,
      backoffMaxMs: 500,
    });
    const events: string[] = [];
    informer.addEventHandler({
      onAdd: (o) => events.push(`add ${o.metadata.name}`),
      onUpdate: (o, n) => {
        if (o.metadata.resourceVersion !== n.metadata.resourceVersion)
          events.push(`update ${n.metadata.name}`);
      },
      onDelete: (o) => events.push(`delete ${o.metadata.name}`),
    });
    const ac = new AbortController();
    const running = informer.run(ac.signal);
    try {
      await informer.waitForSync(AbortSignal.timeout(10_000));
      assert.deepEqual(informer.cache.keys(), [`${ns}/before`]);

      await cms.create(configMap('live', { v: '1' }));
      await waitFor(() => informer.cache.find(`${ns}/live`), {
        timeoutMs: 10_000,
        description: 'the watch to deliver "live"',
      });

      await server.stop();
      await waitFor(() => records.some((r) => r.msg === 'Informer lost the API server; retrying'), {
        timeoutMs: 10_000,
        description: 'the informer to notice the server is gone',
      });
      assert.equal(informer.cache.size, 2, 'the cache stays readable while the server is down');

      await server.restart();
      // Changes after the restart reach the same informer through the same client.
      await cms.create(configMap('after', { v: '1' }));
      const live = await cms.get('live');
      await cms.update({ ...live, data: { v: '2' } });
      await cms.delete('before');
      await waitFor(
        () =>
          informer.cache.find(`${ns}/after`) &&
          informer.cache.find(`${ns}/live`)?.['data'] !== undefined &&
          (informer.cache.find(`${ns}/live`)?.['data'] as Record<string, string>)['v'] === '2' &&
          !informer.cache.find(`${ns}/before`),
        { timeoutMs: 20_000, description: 'the informer to catch up after the restart' },
      );
      assert.deepEqual(informer.cache.keys().sort(), [`${ns}/after`, `${ns}/live`]);
      assert.deepEqual(events, ['add before', 'add live', 'add after', 'update live', 'delete before']);
      assert.ok(records.some((r) => r.msg === 'Informer recovered'));

      // The cache matches a fresh list exactly.
      const fresh = await cms.list({ labelSelector: 'app=inf' });
      assert.deepEqual(
        fresh.items.map((o) => `${o.metadata.name}@${o.metadata.resourceVersion}`).sort(),
        informer.cache
          .list()
          .map((o) => `${o.metadata.name}@${o.metadata.resourceVersion}`)
          .sort(),
      );
    } finally {
      ac.abort();
      await running;
    }
  });
});
