/**
 * The controllers run in this process (through `startControllers`, as `h8s server` runs them)
 * against a real `h8s server` started without its own controllers.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createMemoryLogger, waitFor } from '../lib/index.js';
import type { KubeObject, OwnerReference } from '../api/index.js';
import { builtinResources, type ApiClient } from '../client/index.js';
import { startTestServer, type TestServer } from '../client/testing/test-server.js';
import { startControllers, type RunningControllers } from './index.js';

let server: TestServer;
let client: ApiClient;
let controllers: RunningControllers;
const stop = new AbortController();
const { log, records } = createMemoryLogger('info');

before(async () => {
  // The server's own controllers stay off so these run alone.
  server = await startTestServer({ disable: 'agent,runtime,controllers,scheduler' });
  client = server.client;
  controllers = startControllers({
    client,
    log,
    signal: stop.signal,
    namespace: { deletionGraceMs: 0, recheckMs: 200 },
    garbageCollector: { resyncResourcesMs: 5_000 },
  });
});

after(async () => {
  stop.abort();
  await controllers?.done;
  if (server) {
    if (process.exitCode) {
      console.error(`data dir ${server.dataDir}\n--- server output ---\n${server.output().slice(-6000)}`);
      console.error(records.map((r) => JSON.stringify(r)).join('\n'));
    }
    await server.cleanup();
  }
});

function ref(owner: KubeObject, block = true): OwnerReference {
  return {
    apiVersion: owner.apiVersion,
    kind: owner.kind,
    name: owner.metadata.name ?? '',
    uid: owner.metadata.uid ?? '',
    ...(block ? { controller: true, blockOwnerDeletion: true } : {}),
  };
}

async function namespace(name: string): Promise<void> {
  await client
    .resource(builtinResources.namespaces)
    .create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
}

function configMap(name: string, owners: OwnerReference[] = [], finalizers: string[] = []): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name,
      ...(owners.length ? { ownerReferences: owners } : {}),
      ...(finalizers.length ? { finalizers } : {}),
    },
  };
}

/** owner → child → grandchild, all ConfigMaps. */
async function chain(ns: string, prefix: string, grandchildFinalizers: string[] = []) {
  const cms = client.resource(builtinResources.configMaps, ns);
  const owner = await cms.create(configMap(`${prefix}-owner`));
  const child = await cms.create(configMap(`${prefix}-child`, [ref(owner)]));
  const grandchild = await cms.create(configMap(`${prefix}-grandchild`, [ref(child)], grandchildFinalizers));
  return { cms, owner, child, grandchild };
}

const gone = (cms: ReturnType<ApiClient['resource']>, names: string[]) => async () =>
  (await Promise.all(names.map((n) => cms.find(n)))).every((o) => o === undefined);

describe('garbage collector', () => {
  const ns = 'gc-int';
  before(() => namespace(ns));

  it('collects the dependents of a deleted owner in background, down the chain', async () => {
    const { cms } = await chain(ns, 'bg');
    await cms.delete('bg-owner', { propagationPolicy: 'Background' });
    await waitFor(gone(cms, ['bg-child', 'bg-grandchild']), {
      timeoutMs: 20_000,
      description: 'the chain to be collected',
    });
  });

  it('deletes blocking dependents before the owner in foreground', async () => {
    const { cms } = await chain(ns, 'fg', ['test.h8s.io/hold']);
    const pending = await cms.delete('fg-owner', { propagationPolicy: 'Foreground' });
    assert.deepEqual(pending?.metadata.finalizers, ['foregroundDeletion']);
    await waitFor(async () => (await cms.find('fg-grandchild'))?.metadata.deletionTimestamp !== undefined, {
      timeoutMs: 20_000,
      description: 'the grandchild to be deleted',
    });
    // The held grandchild blocks the child, which blocks the owner.
    const child = await cms.get('fg-child');
    assert.ok(child.metadata.deletionTimestamp);
    assert.deepEqual(child.metadata.finalizers, ['foregroundDeletion']);
    assert.ok(await cms.find('fg-owner'));
    const held = await cms.get('fg-grandchild');
    await cms.update({ ...held, metadata: { ...held.metadata, finalizers: [] } });
    await waitFor(gone(cms, ['fg-owner', 'fg-child', 'fg-grandchild']), {
      timeoutMs: 20_000,
      description: 'the foreground chain to finish',
    });
  });

  it('orphans dependents and then lets the owner go', async () => {
    const { cms, child } = await chain(ns, 'or');
    await cms.delete('or-owner', { propagationPolicy: 'Orphan' });
    await waitFor(async () => (await cms.find('or-owner')) === undefined, {
      timeoutMs: 20_000,
      description: 'the owner to go',
    });
    const orphan = await cms.get('or-child');
    assert.deepEqual(orphan.metadata.ownerReferences ?? [], []);
    const grandchild = await cms.get('or-grandchild');
    assert.equal(grandchild.metadata.ownerReferences?.[0]?.uid, child.metadata.uid);
  });

  it('deletes a dependent whose owner never existed, after checking with the server', async () => {
    const cms = client.resource(builtinResources.configMaps, ns);
    await cms.create(
      configMap('dangling', [
        { apiVersion: 'v1', kind: 'ConfigMap', name: 'ghost', uid: '6c3e1b7a-0000-4000-8000-000000000000' },
      ]),
    );
    await waitFor(gone(cms, ['dangling']), {
      timeoutMs: 20_000,
      description: 'the dependent of a ghost to be collected',
    });
  });

  it('keeps a dependent whose owner exists, and a reference whose uid matches', async () => {
    const cms = client.resource(builtinResources.configMaps, ns);
    const owner = await cms.create(configMap('keeper'));
    await cms.create(configMap('kept', [ref(owner)]));
    // Same name, other uid: not its owner, so this one goes.
    await cms.create(
      configMap('impostor-dep', [{ ...ref(owner), uid: '6c3e1b7a-0000-4000-8000-000000000001' }]),
    );
    await waitFor(gone(cms, ['impostor-dep']), {
      timeoutMs: 20_000,
      description: 'the dependent with a wrong uid to go',
    });
    assert.ok(await cms.find('kept'));
  });

  it('collects dependents of a cluster-scoped owner', async () => {
    await namespace('gc-int-owner');
    const owner = await client.resource(builtinResources.namespaces).get('gc-int-owner');
    const cms = client.resource(builtinResources.configMaps, ns);
    await cms.create(configMap('owned-by-ns', [ref(owner, false)]));
    await client.resource(builtinResources.namespaces).delete('gc-int-owner');
    await waitFor(gone(cms, ['owned-by-ns']), {
      timeoutMs: 30_000,
      description: 'the dependent of a deleted namespace to go',
    });
  });

  it('treats an owner in another namespace as absent and reports it with an event', async () => {
    await namespace('gc-int-other');
    const foreign = await client
      .resource(builtinResources.configMaps, 'gc-int-other')
      .create(configMap('foreign'));
    const cms = client.resource(builtinResources.configMaps, ns);
    await cms.create(configMap('cross', [ref(foreign)]));
    await waitFor(gone(cms, ['cross']), {
      timeoutMs: 20_000,
      description: 'the cross-namespace dependent to go',
    });
    assert.ok(await client.resource(builtinResources.configMaps, 'gc-int-other').find('foreign'));
    await waitFor(
      async () =>
        (await client.resource(builtinResources.events, ns).list()).items.some(
          (e) => e['reason'] === 'OwnerRefInvalidNamespace',
        ),
      { timeoutMs: 20_000, description: 'an OwnerRefInvalidNamespace event' },
    );
  });
});

describe('namespace controller', () => {
  it('deletes everything in a namespace, reports what holds it, then finalizes it', async () => {
    const ns = 'ns-int-doomed';
    await namespace(ns);
    const cms = client.resource(builtinResources.configMaps, ns);
    await cms.create(configMap('plain'));
    await cms.create(configMap('held', [], ['test.h8s.io/hold']));
    await client
      .resource(builtinResources.secrets, ns)
      .create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, stringData: { a: 'b' } });
    await client.resource(builtinResources.pods, ns).create({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p' },
      spec: { containers: [{ name: 'c', image: 'busybox' }] },
    });
    await client.resource(builtinResources.namespaces).delete(ns);
    await waitFor(
      async () => {
        const got = await client.resource(builtinResources.namespaces).get(ns);
        const conditions =
          (got['status'] as { conditions?: { type: string; status: string; message?: string }[] })
            .conditions ?? [];
        const remaining = conditions.find((c) => c.type === 'NamespaceContentRemaining');
        return (
          remaining?.status === 'True' &&
          remaining.message === 'Some resources are remaining: configmaps. has 1 resource instances'
        );
      },
      { timeoutMs: 20_000, description: 'the namespace to report the held configmap' },
    );
    assert.equal(await cms.find('plain'), undefined);
    assert.equal(await client.resource(builtinResources.secrets, ns).find('s'), undefined);
    assert.equal(await client.resource(builtinResources.pods, ns).find('p'), undefined);
    const status = (await client.resource(builtinResources.namespaces).get(ns))['status'] as {
      phase: string;
      conditions: { type: string; status: string; reason: string }[];
    };
    assert.equal(status.phase, 'Terminating');
    assert.deepEqual(status.conditions.map((c) => `${c.type}=${c.status}/${c.reason}`).sort(), [
      'NamespaceContentRemaining=True/SomeResourcesRemain',
      'NamespaceDeletionContentFailure=False/ContentDeleted',
      'NamespaceDeletionDiscoveryFailure=False/ResourcesDiscovered',
      'NamespaceDeletionGroupVersionParsingFailure=False/ParsedGroupVersions',
      'NamespaceFinalizersRemaining=True/SomeFinalizersRemain',
    ]);
    const held = await cms.get('held');
    await cms.update({ ...held, metadata: { ...held.metadata, finalizers: [] } });
    await waitFor(async () => (await client.resource(builtinResources.namespaces).find(ns)) === undefined, {
      timeoutMs: 20_000,
      description: 'the namespace to be deleted',
    });
    assert.ok(records.some((r) => r.msg === 'Namespace finalized' && r['namespace'] === ns));
  });
});

describe('controller manager', () => {
  it('runs the controllers in only one of two processes that share a Lease, and hands over', async () => {
    const electionNs = 'kube-system';
    const start = (identity: string) => {
      const ac = new AbortController();
      const running = startControllers({
        client,
        signal: ac.signal,
        // Nothing to run: this checks the election wiring, not the controllers again.
        disabled: ['garbage-collector', 'namespace'],
        leaderElection: {
          identity,
          name: 'controllers-int',
          namespace: electionNs,
          leaseDurationMs: 4_000,
          renewDeadlineMs: 3_000,
          retryPeriodMs: 300,
        },
      });
      return { ac, running };
    };
    const a = start('a');
    await waitFor(() => a.running.isActive(), { timeoutMs: 10_000, description: 'a to become active' });
    const b = start('b');
    const lease = client.resource(builtinResources.leases, electionNs);
    await waitFor(
      async () =>
        ((await lease.get('controllers-int'))['spec'] as { holderIdentity?: string }).holderIdentity === 'a',
      {
        timeoutMs: 5_000,
      },
    );
    assert.equal(b.running.isActive(), false);
    a.ac.abort();
    await a.running.done;
    await waitFor(() => b.running.isActive(), { timeoutMs: 5_000, description: 'b to take over' });
    b.ac.abort();
    await b.running.done;
  });

  it('refuses an unknown controller name', () => {
    assert.throws(
      () => startControllers({ client, signal: stop.signal, disabled: ['nope'] }),
      /Unknown controller "nope"/,
    );
  });
});

describe('controllers across an API server restart', () => {
  it('keep collecting garbage and deleting namespaces after the server comes back', async () => {
    const ns = 'restart-int';
    await namespace(ns);
    const { cms } = await chain(ns, 'before-restart');
    await server.restart();
    // Changes made while the controllers were reconnecting are seen after the restart.
    await cms.delete('before-restart-owner');
    await waitFor(gone(cms, ['before-restart-child', 'before-restart-grandchild']), {
      timeoutMs: 60_000,
      description: 'the chain to be collected after the restart',
    });
    await client.resource(builtinResources.namespaces).delete(ns);
    await waitFor(async () => (await client.resource(builtinResources.namespaces).find(ns)) === undefined, {
      timeoutMs: 60_000,
      description: 'the namespace to be deleted after the restart',
    });
  });
});
