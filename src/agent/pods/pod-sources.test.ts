import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod } from '../../api/index.js';
import type { ApiClient } from '../../client/index.js';
import { ManualClock } from '../../lib/index.js';
import { PodSources } from './pod-sources.js';

/** A client that answers TokenRequests with numbered tokens and records them. */
function tokenClient(clock: ManualClock): { client: ApiClient; requests: Record<string, unknown>[] } {
  const requests: Record<string, unknown>[] = [];
  const client = {
    resource: () => ({
      createSubresource: (_name: string, _sub: string, body: Record<string, unknown>) => {
        requests.push(body);
        const seconds = (body['spec'] as { expirationSeconds: number }).expirationSeconds;
        return Promise.resolve({
          status: {
            token: `token-${requests.length}`,
            expirationTimestamp: new Date(clock.now() + seconds * 1000).toISOString(),
          },
        });
      },
    }),
  } as unknown as ApiClient;
  return { client, requests };
}

const pod: Pod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web', namespace: 'team', uid: 'u-1' },
  spec: { serviceAccountName: 'robot', containers: [] },
};

describe('pod sources', () => {
  it('requests a bound token once and again only after 80 % of its lifetime', async () => {
    const clock = new ManualClock();
    const { client, requests } = tokenClient(clock);
    const sources = new PodSources({ client, clock });
    const first = await sources.requestToken(pod, undefined, 3600);
    assert.equal(first.token, 'token-1');
    assert.equal(first.refreshAtMs, clock.now() + 2880_000);
    assert.deepEqual((requests[0] as { spec: unknown }).spec, {
      expirationSeconds: 3600,
      boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: 'web', uid: 'u-1' },
    });
    clock.advance(2879_000);
    assert.equal((await sources.requestToken(pod, undefined, 3600)).token, 'token-1');
    // Another audience is another token.
    assert.equal((await sources.requestToken(pod, 'vault', 3600)).token, 'token-2');
    clock.advance(1_000);
    assert.equal((await sources.requestToken(pod, undefined, 3600)).token, 'token-3');
    assert.equal(requests.length, 3);
  });
});
