import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../api/index.js';
import type { ApiClient } from '../../client/index.js';
import { conflict, notFound } from '../../lib/index.js';
import { claimNodeBlock, nodeBlocksAnnotation } from './node-block.js';

/** A store of one Network with the apiserver's resourceVersion compare-and-swap. */
function fakeClient(
  cidr: string,
  beforeUpdate?: (obj: KubeObject) => void,
): { client: ApiClient; stored: () => KubeObject } {
  let rv = 1;
  let obj: KubeObject = {
    apiVersion: 'v1',
    kind: 'Network',
    metadata: { name: 'default', resourceVersion: String(rv) },
    spec: { tenantID: 'default', subnets: { default: { cidr } } },
  } as KubeObject;
  const resource = {
    get: (name: string) =>
      name === 'default'
        ? Promise.resolve(structuredClone(obj))
        : Promise.reject(notFound(`"${name}" not found`)),
    update: (next: KubeObject) => {
      beforeUpdate?.(next);
      if (next.metadata.resourceVersion !== obj.metadata.resourceVersion) {
        return Promise.reject(conflict('the object has been modified'));
      }
      obj = { ...structuredClone(next), metadata: { ...next.metadata, resourceVersion: String(++rv) } };
      return Promise.resolve(structuredClone(obj));
    },
  };
  const client = { resource: () => resource } as unknown as ApiClient;
  return {
    client,
    stored: () => obj,
  };
}

describe('claimNodeBlock', () => {
  it('gives each node its own block and the same one again', async () => {
    const { client, stored } = fakeClient('10.42.0.0/16');
    assert.deepEqual(await claimNodeBlock(client, 'default', 'node-a', 24), {
      subnet: '10.42.0.0/16',
      block: '10.42.0.0/24',
    });
    assert.equal((await claimNodeBlock(client, 'default', 'node-b', 24)).block, '10.42.1.0/24');
    assert.equal((await claimNodeBlock(client, 'default', 'node-a', 24)).block, '10.42.0.0/24');
    assert.deepEqual(JSON.parse(stored().metadata.annotations?.[nodeBlocksAnnotation] ?? '{}'), {
      'node-a': '10.42.0.0/24',
      'node-b': '10.42.1.0/24',
    });
  });

  it('takes the next block after losing a race for one', async () => {
    let raced = false;
    const fake = fakeClient('10.42.0.0/16', () => {
      if (raced) return;
      raced = true;
      // node-z writes first: node-a's update carries a stale resourceVersion now.
      const current = fake.stored();
      current.metadata.annotations = { [nodeBlocksAnnotation]: JSON.stringify({ 'node-z': '10.42.0.0/24' }) };
      current.metadata.resourceVersion = '99';
    });
    assert.equal((await claimNodeBlock(fake.client, 'default', 'node-a', 24)).block, '10.42.1.0/24');
  });

  it('answers ServiceUnavailable when every block is taken', async () => {
    const { client } = fakeClient('10.42.0.0/23');
    await claimNodeBlock(client, 'default', 'node-a', 24);
    await claimNodeBlock(client, 'default', 'node-b', 24);
    await assert.rejects(claimNodeBlock(client, 'default', 'node-c', 24), { code: 'ServiceUnavailable' });
  });
});
