/** The token cleaner against a real `h8s server`, on a manual clock. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../api/index.js';
import { builtinResources } from '../../client/index.js';
import { startTestServer, type TestServer } from '../../client/testing/test-server.js';
import { ManualClock, waitFor } from '../../lib/index.js';
import { createTokenCleaner } from './token-cleaner.js';

function tokenSecret(id: string, expiration?: string, type = 'bootstrap.kubernetes.io/token'): KubeObject {
  const b64 = (v: string): string => Buffer.from(v).toString('base64');
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: `bootstrap-token-${id}`, namespace: 'kube-system' },
    type,
    data: {
      'token-id': b64(id),
      'token-secret': b64('0123456789abcdef'),
      ...(expiration !== undefined ? { expiration: b64(expiration) } : {}),
    },
  };
}

describe('token cleaner', { timeout: 60_000 }, () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ disable: 'agent,runtime,controllers,scheduler' });
  });
  after(async () => {
    await server?.cleanup();
  });

  it('deletes bootstrap tokens once they expire and leaves the others', async () => {
    const secrets = server.client.resource(builtinResources.secrets, 'kube-system');
    const now = Date.now();
    const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
    await secrets.create(tokenSecret('past01', iso(now - 60_000)));
    await secrets.create(tokenSecret('later1', iso(now + 3600_000)));
    await secrets.create(tokenSecret('never1'));
    await secrets.create(tokenSecret('typo01', 'tomorrow'));
    await secrets.create(tokenSecret('other1', iso(now - 60_000), 'Opaque'));
    const clock = new ManualClock(now);
    const stop = new AbortController();
    const running = createTokenCleaner({ client: server.client, clock }).run(stop.signal);
    try {
      // The server's own node token (which never expires) is in kube-system too: only ours count.
      const ours = ['later1', 'never1', 'other1', 'past01', 'typo01'].map((id) => `bootstrap-token-${id}`);
      const names = async (): Promise<string[]> =>
        (await secrets.list()).items
          .map((s) => s.metadata.name ?? '')
          .filter((n) => ours.includes(n))
          .sort();
      await waitFor(async () => (await names()).length === 3, { timeoutMs: 10_000 });
      assert.deepEqual(await names(), [
        'bootstrap-token-later1',
        'bootstrap-token-never1',
        'bootstrap-token-other1',
      ]);
      await waitFor(() => clock.pendingTimers > 0, { timeoutMs: 5_000 });
      clock.advance(3600_000 + 2_000);
      await waitFor(async () => (await names()).length === 2, { timeoutMs: 10_000 });
      assert.deepEqual(await names(), ['bootstrap-token-never1', 'bootstrap-token-other1']);
    } finally {
      stop.abort();
      await running;
    }
  });
});
