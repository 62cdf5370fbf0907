/**
 * The scheduler against a real `h8s server`: pods are bound through pods/binding with a
 * Scheduled event; a pod that fits nowhere gets upstream's FailedScheduling message and
 * PodScheduled=False, and is bound as soon as a node that fits appears; a high-priority pod
 * preempts lower-priority ones; bad references (an unknown RuntimeClass) are reported, not
 * retried hot.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject, Node, Pod } from '../api/index.js';
import { builtinResources, type ApiClient } from '../client/index.js';
import { startTestServer, type TestServer } from '../client/testing/test-server.js';
import { createMemoryLogger, waitFor } from '../lib/index.js';
import { createScheduler, type Scheduler } from './scheduler.js';
import { testNode, testPod, type NodeFixture, type PodFixture } from './testing/fixtures.js';

let server: TestServer;
let client: ApiClient;
let scheduler: Scheduler;
const stop = new AbortController();
let running: Promise<void>;
const { log, records } = createMemoryLogger('info');
const ns = 'sched';

type PodObject = Pod & KubeObject;

before(async () => {
  server = await startTestServer({ disable: 'agent,runtime,controllers,scheduler' });
  client = server.client;
  await client
    .resource(builtinResources.namespaces)
    .create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  await addNode('n1', { cpu: '2', memory: '4Gi' });
  await addNode('n2', {
    cpu: '2',
    memory: '4Gi',
    taints: [{ key: 'dedicated', value: 'sip', effect: 'NoSchedule' }],
  });
  await addNode('n3', {
    cpu: '2',
    memory: '4Gi',
    taints: [{ key: 'dedicated', value: 'sip', effect: 'NoSchedule' }],
  });
  scheduler = createScheduler({ client, log, initialBackoffMs: 100, maxBackoffMs: 500 });
  running = scheduler.run(stop.signal);
  await scheduler.waitForSync();
});

after(async () => {
  stop.abort();
  await running;
  if (process.exitCode) console.error(records.map((r) => JSON.stringify(r)).join('\n'));
  await server?.cleanup();
});

async function addNode(name: string, f: NodeFixture): Promise<void> {
  const node = testNode(name, f) as Node & KubeObject;
  const nodes = client.resource<Node & KubeObject>(builtinResources.nodes);
  const { status: _status, ...spec } = node;
  const created = await nodes.create(spec as Node & KubeObject);
  await nodes.updateStatus({ ...created, status: node.status } as Node & KubeObject);
}

async function createPod(name: string, f: PodFixture = {}): Promise<void> {
  const p = testPod(name, { ...f, namespace: ns }) as PodObject;
  const { uid: _uid, ...metadata } = p.metadata;
  await client.resource<PodObject>(builtinResources.pods, ns).create({ ...p, metadata } as PodObject);
}

async function boundNode(name: string): Promise<string> {
  let node = '';
  await waitFor(
    async () => {
      const p = await client.resource<PodObject>(builtinResources.pods, ns).get(name);
      node = p.spec?.nodeName ?? '';
      return node !== '';
    },
    { timeoutMs: 20_000, description: `pod ${name} to be bound` },
  );
  return node;
}

async function events(name: string, reason: string): Promise<string[]> {
  const list = await client
    .resource<KubeObject & { reason?: string; message?: string; involvedObject?: { name?: string } }>(
      builtinResources.events,
      ns,
    )
    .list();
  return list.items
    .filter((e) => e.involvedObject?.name === name && e.reason === reason)
    .map((e) => e.message ?? '');
}

describe('scheduler', () => {
  it('binds a pod to the node that fits, with a Scheduled event', async () => {
    await createPod('web', { cpu: '500m', memory: '256Mi' });
    assert.equal(await boundNode('web'), 'n1');
    await waitFor(async () => (await events('web', 'Scheduled')).length > 0, {
      timeoutMs: 10_000,
      description: 'Scheduled event',
    });
    assert.deepEqual(await events('web', 'Scheduled'), [`Successfully assigned ${ns}/web to n1`]);
  });

  it('explains why a pod fits nowhere, and binds it once a node that fits appears', async () => {
    await createPod('big', { memory: '6Gi' });
    const want =
      '0/3 nodes are available: 1 Insufficient memory, 2 node(s) had untolerated taint {dedicated: sip}. preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling.';
    await waitFor(async () => (await events('big', 'FailedScheduling')).includes(want), {
      timeoutMs: 10_000,
      description: 'the FailedScheduling event',
    });
    // The event and the condition are two writes; the condition may land after the event.
    let cond: { status?: string; reason?: string; message?: string } | undefined;
    await waitFor(
      async () => {
        const pod = await client.resource<PodObject>(builtinResources.pods, ns).get('big');
        cond = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
        return cond?.status === 'False';
      },
      { timeoutMs: 10_000, description: 'PodScheduled=False on the pod' },
    );
    assert.deepEqual([cond?.status, cond?.reason, cond?.message], ['False', 'Unschedulable', want]);
    await addNode('n4', { cpu: '4', memory: '16Gi' });
    assert.equal(await boundNode('big'), 'n4');
  });

  it('preempts lower-priority pods for a pod of higher priority', async () => {
    await client.resource(builtinResources.priorityClasses).create({
      apiVersion: 'scheduling.k8s.io/v1',
      kind: 'PriorityClass',
      metadata: { name: 'sip-critical' },
      value: 100000,
    } as KubeObject);
    // Fill the untainted capacity that is left (n1: 1.5 cpu, n4: 4 cpu) with low-priority pods.
    for (let i = 0; i < 5; i++) await createPod(`batch-${i}`, { cpu: '1' });
    for (let i = 0; i < 5; i++) await boundNode(`batch-${i}`);
    await createPod('sip', { cpu: '1500m', spec: { priorityClassName: 'sip-critical' } });
    // No agent runs here: finish the victims' graceful deletion as a kubelet would.
    const pods = client.resource<PodObject>(builtinResources.pods, ns);
    const kubelet = setInterval(() => {
      void pods.list().then(async (l) => {
        for (const p of l.items)
          if (p.metadata.deletionTimestamp)
            await pods.delete(p.metadata.name ?? '', { gracePeriodSeconds: 0 }).catch(() => undefined);
      });
    }, 100);
    const node = await boundNode('sip').finally(() => clearInterval(kubelet));
    assert.ok(node === 'n1' || node === 'n4', node);
    const left = (await client.resource<PodObject>(builtinResources.pods, ns).list()).items.filter((p) =>
      p.metadata.name?.startsWith('batch-'),
    );
    assert.ok(left.length < 5, 'a batch pod was preempted');
    const preempted = await Promise.all([0, 1, 2, 3, 4].map((i) => events(`batch-${i}`, 'Preempted')));
    assert.ok(preempted.flat().some((m) => m.includes('on node')));
    assert.ok(scheduler.stats.preemptions >= 1);
  });

  it('reports a missing RuntimeClass and places the pod once it exists', async () => {
    await createPod('gv', { spec: { runtimeClassName: 'vm-fast' } });
    await waitFor(
      async () =>
        (await events('gv', 'FailedScheduling')).some((m) => m.includes('RuntimeClass "vm-fast" not found')),
      {
        timeoutMs: 10_000,
        description: 'the FailedScheduling event',
      },
    );
    await client.resource(builtinResources.runtimeClasses).create({
      apiVersion: 'node.k8s.io/v1',
      kind: 'RuntimeClass',
      metadata: { name: 'vm-fast' },
      handler: 'hyper',
    } as KubeObject);
    assert.ok(['n1', 'n4'].includes(await boundNode('gv')));
  });

  it('leaves pods of another scheduler alone', async () => {
    await createPod('other', { spec: { schedulerName: 'my-scheduler' } });
    await new Promise((r) => setTimeout(r, 500));
    const p = await client.resource<PodObject>(builtinResources.pods, ns).get('other');
    assert.equal(p.spec?.nodeName, undefined);
    assert.deepEqual(await events('other', 'FailedScheduling'), []);
  });
});
