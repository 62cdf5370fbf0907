/** The service-account controller against a real `h8s server`. */
import { after, before, describe, it } from 'node:test';
import { builtinResources, type ApiClient } from '../../client/index.js';
import { startTestServer, type TestServer } from '../../client/testing/test-server.js';
import { createMemoryLogger, waitFor } from '../../lib/index.js';
import { createServiceAccountController } from './service-account-controller.js';

let server: TestServer;
let client: ApiClient;
const stop = new AbortController();
let running: Promise<void>;
const { log } = createMemoryLogger('info');

before(async () => {
  server = await startTestServer({ disable: 'agent,runtime,controllers,scheduler' });
  client = server.client;
  running = createServiceAccountController({ client, log }).run(stop.signal);
});

after(async () => {
  stop.abort();
  await running;
  await server?.cleanup();
});

describe('service-account controller', () => {
  it('gives every namespace a default service account and recreates it when deleted', async () => {
    await waitFor(
      async () =>
        (await client.resource(builtinResources.serviceAccounts, 'default').find('default')) !== undefined,
      {
        timeoutMs: 20_000,
        description: 'default/default',
      },
    );
    await client
      .resource(builtinResources.namespaces)
      .create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-a' } });
    const sa = () => client.resource(builtinResources.serviceAccounts, 'team-a').find('default');
    const first = await waitFor(async () => await sa(), { timeoutMs: 20_000, description: 'team-a/default' });
    await client.resource(builtinResources.serviceAccounts, 'team-a').delete('default');
    await waitFor(async () => ((await sa())?.metadata.uid ?? first.metadata.uid) !== first.metadata.uid, {
      timeoutMs: 20_000,
      description: 'team-a/default recreated',
    });
  });
});
