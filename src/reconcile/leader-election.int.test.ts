import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../lib/index.js';
import { builtinResources, createApiClient, type ApiClient } from '../client/index.js';
import { startTestServer, type TestServer } from '../client/testing/test-server.js';
import { createLeaderElector, createLeaseLock } from './index.js';
import { runLeaseLockConformance } from './testing/lease-lock-conformance.js';

const namespace = 'leader-election-int';
let server: TestServer | undefined;
let other: ApiClient | undefined;
let lockCount = 0;

before(async () => {
  server = await startTestServer();
  other = createApiClient({ ...server.credentials });
  await server.client
    .resource(builtinResources.namespaces)
    .create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
});

after(async () => {
  other?.close();
  if (server) {
    if (process.exitCode) console.error(`data dir ${server.dataDir}\n${server.output().slice(-4000)}`);
    await server.cleanup();
  }
});

runLeaseLockConformance('Lease on a real h8s server', async () => {
  const name = `lock-${++lockCount}`;
  if (!server || !other) throw new Error('the server did not start');
  return {
    a: createLeaseLock({ client: server.client, namespace, name }),
    b: createLeaseLock({ client: other, namespace, name }),
  };
});

describe('leader election on a real h8s server', () => {
  it('lets one of two candidates lead and hands over when it stops', async () => {
    if (!server || !other) throw new Error('the server did not start');
    const leading = new Set<string>();
    let bothAtOnce = false;
    const candidate = (client: ApiClient, identity: string) => {
      const ac = new AbortController();
      const elector = createLeaderElector({
        lock: createLeaseLock({ client, namespace, name: 'controllers' }),
        identity,
        leaseDurationMs: 4_000,
        renewDeadlineMs: 3_000,
        retryPeriodMs: 300,
        onStartedLeading: (signal) =>
          new Promise<void>((resolve) => {
            leading.add(identity);
            if (leading.size > 1) bothAtOnce = true;
            signal.addEventListener('abort', () => {
              leading.delete(identity);
              resolve();
            });
          }),
      });
      return { elector, ac, running: elector.run(ac.signal) };
    };
    const a = candidate(server.client, 'server-a');
    await waitFor(() => a.elector.isLeader(), { timeoutMs: 10_000, description: 'a to lead' });
    const b = candidate(other, 'server-b');
    await waitFor(() => b.elector.leaderIdentity() === 'server-a', {
      timeoutMs: 10_000,
      description: 'b to see a lead',
    });
    // Several renewals pass; b must keep waiting.
    const lease = server.client.resource(builtinResources.leases, namespace);
    const first = (await lease.get('controllers'))['spec'] as { renewTime: string };
    await waitFor(
      async () =>
        ((await lease.get('controllers'))['spec'] as { renewTime: string }).renewTime !== first.renewTime,
      {
        timeoutMs: 5_000,
        description: 'a to renew',
      },
    );
    assert.equal(b.elector.isLeader(), false);
    a.ac.abort();
    await a.running;
    await waitFor(() => b.elector.isLeader(), {
      timeoutMs: 5_000,
      description: 'b to take over the released lease',
    });
    const spec = (await lease.get('controllers'))['spec'] as {
      holderIdentity: string;
      leaseTransitions: number;
    };
    assert.equal(spec.holderIdentity, 'server-b');
    assert.equal(spec.leaseTransitions, 1);
    assert.equal(bothAtOnce, false);
    b.ac.abort();
    await b.running;
    const released = (await lease.get('controllers'))['spec'] as { holderIdentity?: string };
    assert.equal(released.holderIdentity ?? '', '');
  });
});
