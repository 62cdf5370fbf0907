/**
 * The agent against a real `h8s server` and a real runtime daemon (runc): pods created through
 * the API run, report their status, restart by policy, and leave nothing behind when deleted.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeObject, Pod } from '../api/index.js';
import { builtinResources, type ApiClient } from '../client/index.js';
import { startTestServer, type TestServer } from '../client/testing/test-server.js';
import { createMemoryLogger, waitFor } from '../lib/index.js';
import { startTestRuntime, type TestRuntime } from '../runtime/testing/test-runtime.js';
import { createAgent } from './index.js';
import { ImageGc } from './node/image-gc.js';

let server: TestServer;
let runtime: TestRuntime;
let client: ApiClient;
let dataDir: string;
let stop = new AbortController();
let running: Promise<void>;
const { log, records } = createMemoryLogger('debug');
const nodeName = 'node-a';

type PodObject = Pod & KubeObject;

before(async () => {
  [server, runtime] = await Promise.all([
    startTestServer({ disable: 'agent,runtime,controllers,scheduler' }),
    startTestRuntime({ handlers: ['runc'] }),
  ]);
  client = server.client;
  for (const handler of ['runc', 'hyper']) {
    await client
      .resource(builtinResources.runtimeClasses)
      .create({
        apiVersion: 'node.k8s.io/v1',
        kind: 'RuntimeClass',
        metadata: { name: handler },
        handler,
      } as KubeObject)
      .catch(() => undefined);
  }
  dataDir = await mkdtemp(join(tmpdir(), 'h8s-agent-test-'));
  startAgent();
});

function startAgent(): void {
  stop = new AbortController();
  const agent = createAgent({
    client,
    runtime: runtime.client,
    log,
    config: {
      nodeName,
      dataDir,
      addresses: ['127.0.0.1'],
      streamingPort: 10250,
      kubeletVersion: 'v1.33.0',
      relistMs: 200,
    },
  });
  running = agent.run(stop.signal);
}

after(async () => {
  stop.abort();
  await running;
  if (process.exitCode) {
    console.error(
      records
        .slice(-200)
        .map((r) => JSON.stringify(r))
        .join('\n'),
    );
    console.error(runtime?.logs().slice(-4000));
  }
  await runtime?.stop();
  await server?.cleanup();
  await rm(dataDir, { recursive: true, force: true });
});

function pods(ns = 'default') {
  return client.resource<PodObject>(builtinResources.pods, ns);
}

function pod(name: string, spec: Partial<NonNullable<Pod['spec']>>): PodObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default' },
    spec: {
      nodeName,
      runtimeClassName: undefined as never,
      terminationGracePeriodSeconds: 2,
      containers: [],
      ...spec,
    },
  } as PodObject;
}

async function waitForPod(
  name: string,
  ok: (p: PodObject) => boolean,
  what: string,
  timeoutMs = 60_000,
): Promise<PodObject> {
  let last: PodObject | undefined;
  try {
    await waitFor(
      async () => {
        last = await pods().find(name);
        return last !== undefined && ok(last);
      },
      { timeoutMs, description: what },
    );
  } catch (err) {
    throw new Error(`${String(err)}; last status of pod "${name}": ${JSON.stringify(last?.status ?? {})}`, {
      cause: err,
    });
  }
  return last as PodObject;
}

describe('agent (runc)', () => {
  it('registers its Node with capacity, addresses and a Ready condition, and renews its Lease', async () => {
    // The Node is created first and its status written right after: wait for the status.
    await waitFor(
      async () => {
        const n = (await client.resource(builtinResources.nodes).find(nodeName)) as
          (KubeObject & { status?: { conditions?: unknown[] } }) | undefined;
        return (n?.status?.conditions?.length ?? 0) > 0;
      },
      { timeoutMs: 30_000, description: 'the Node with its status' },
    );
    const node = (await client.resource(builtinResources.nodes).get(nodeName)) as KubeObject & {
      status?: {
        capacity?: Record<string, string>;
        conditions?: { type: string; status: string }[];
        addresses?: { type: string; address: string }[];
      };
    };
    assert.ok(node.status?.capacity?.['cpu']);
    assert.ok(node.status?.capacity?.['memory']?.endsWith('Ki'));
    assert.equal(node.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
    assert.deepEqual(node.status?.addresses?.[0], { type: 'InternalIP', address: '127.0.0.1' });
    assert.equal(node.metadata.labels?.['kubernetes.io/hostname'], nodeName);
    await waitFor(
      async () =>
        (await client.resource(builtinResources.leases, 'kube-node-lease').find(nodeName)) !== undefined,
      {
        timeoutMs: 30_000,
        description: 'the node Lease',
      },
    );
  });

  it('runs a runc pod to Running with its container status, then removes it on delete', async () => {
    await pods().create(
      pod('sleeper', {
        runtimeClassName: 'runc',
        containers: [
          {
            name: 'main',
            image: runtime.busyboxRef,
            imagePullPolicy: 'IfNotPresent',
            command: ['sleep', '3600'],
          },
        ],
      }),
    );
    const running = await waitForPod(
      'sleeper',
      (p) => p.status?.phase === 'Running' && p.status.containerStatuses?.[0]?.ready === true,
      'pod Running',
    );
    const cs = running.status?.containerStatuses?.[0];
    assert.equal(cs?.name, 'main');
    assert.ok(cs?.containerID?.startsWith('runc://'));
    assert.ok(cs?.imageID?.startsWith('sha256:'));
    assert.equal(cs?.restartCount, 0);
    assert.ok(running.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    assert.equal(running.status?.qosClass, 'BestEffort');

    await pods().delete('sleeper');
    await waitFor(async () => (await pods().find('sleeper')) === undefined, {
      timeoutMs: 60_000,
      description: 'pod deleted',
    });
    await waitFor(async () => (await runtime.client.listPodSandbox()).length === 0, {
      timeoutMs: 30_000,
      description: 'sandbox removed',
    });
  });

  it('restarts an exiting container under restartPolicy Always and counts the restarts', async () => {
    await pods().create(
      pod('crasher', {
        runtimeClassName: 'runc',
        containers: [
          {
            name: 'c',
            image: runtime.busyboxRef,
            imagePullPolicy: 'IfNotPresent',
            command: ['sh', '-c', 'exit 3'],
          },
        ],
      }),
    );
    const p = await waitForPod(
      'crasher',
      (x) => (x.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 1,
      'a restart',
      60_000,
    );
    const cs = p.status?.containerStatuses?.[0];
    assert.equal(cs?.lastState?.terminated?.exitCode, 3);
    assert.equal(cs?.lastState?.terminated?.reason, 'Error');
    await waitForPod(
      'crasher',
      (x) => x.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'CrashLoopBackOff',
      'CrashLoopBackOff',
    );
    await pods().delete('crasher');
    await waitFor(async () => (await pods().find('crasher')) === undefined, {
      timeoutMs: 60_000,
      description: 'pod deleted',
    });
  });

  it('runs a pod with restartPolicy Never to Succeeded and keeps it', async () => {
    await pods().create(
      pod('job', {
        runtimeClassName: 'runc',
        restartPolicy: 'Never',
        initContainers: [
          { name: 'first', image: runtime.busyboxRef, imagePullPolicy: 'IfNotPresent', command: ['true'] },
          { name: 'second', image: runtime.busyboxRef, imagePullPolicy: 'IfNotPresent', command: ['true'] },
        ],
        containers: [
          {
            name: 'c',
            image: runtime.busyboxRef,
            imagePullPolicy: 'IfNotPresent',
            command: ['sh', '-c', 'echo done'],
          },
        ],
      }),
    );
    const p = await waitForPod('job', (x) => x.status?.phase === 'Succeeded', 'Succeeded');
    assert.equal(p.status?.initContainerStatuses?.length, 2);
    assert.ok(p.status?.initContainerStatuses?.every((s) => s.state?.terminated?.exitCode === 0));
    assert.equal(p.status?.containerStatuses?.[0]?.state?.terminated?.reason, 'Completed');
    await pods().delete('job');
    await waitFor(async () => (await pods().find('job')) === undefined, {
      timeoutMs: 60_000,
      description: 'pod deleted',
    });
  });

  it('reports ErrImagePull with the registry error for an image that does not exist', async () => {
    const image = runtime.busyboxRef.replace('busybox', 'no-such-image');
    await pods().create(
      pod('missing-image', {
        runtimeClassName: 'runc',
        containers: [{ name: 'c', image, imagePullPolicy: 'Always' }],
      }),
    );
    const p = await waitForPod(
      'missing-image',
      (x) =>
        ['ErrImagePull', 'ImagePullBackOff'].includes(
          x.status?.containerStatuses?.[0]?.state?.waiting?.reason ?? '',
        ),
      'ErrImagePull',
    );
    assert.match(p.status?.containerStatuses?.[0]?.state?.waiting?.message ?? '', /no-such-image/);
    await pods().delete('missing-image');
    await waitFor(async () => (await pods().find('missing-image')) === undefined, {
      timeoutMs: 60_000,
      description: 'pod deleted',
    });
  });

  it('image garbage collection removes unused images when the disk is past its threshold, and only then', async () => {
    const gcLog = createMemoryLogger('debug').log;
    let usedPercent = 50;
    const gc = new ImageGc({
      runtime: runtime.client,
      clock: {
        now: () => Date.now(),
        monotonicMs: () => performance.now(),
        setTimeout: (fn, ms) => {
          const t = setTimeout(fn, ms);
          return { cancel: () => clearTimeout(t) };
        },
        sleep: () => Promise.resolve(),
      },
      log: gcLog,
      minAgeMs: 0,
      diskUsage: () => Promise.resolve({ usedBytes: usedPercent, totalBytes: 100 }),
    });
    assert.deepEqual(await gc.collect(), [], 'below the threshold nothing goes');
    // A container still using the image keeps it.
    await pods().create(
      pod('keeper', {
        runtimeClassName: 'runc',
        containers: [
          {
            name: 'c',
            image: runtime.busyboxRef,
            imagePullPolicy: 'IfNotPresent',
            command: ['sleep', '3600'],
          },
        ],
      }),
    );
    await waitForPod('keeper', (p) => p.status?.phase === 'Running', 'keeper Running');
    usedPercent = 95;
    assert.deepEqual(await gc.collect(), [], 'an image in use is kept');
    await pods().delete('keeper');
    await waitFor(async () => (await pods().find('keeper')) === undefined, {
      timeoutMs: 60_000,
      description: 'keeper deleted',
    });
    await waitFor(async () => (await runtime.client.listContainers()).length === 0, {
      timeoutMs: 30_000,
      description: 'containers removed',
    });
    const removed = await gc.collect();
    assert.equal(removed.length, 1);
    assert.equal(await runtime.client.images.findImage(runtime.busyboxRef), undefined);
  });

  it('after an agent restart, a running pod keeps its container, and a pod deleted meanwhile is cleaned up', async () => {
    for (const name of ['stays', 'goes']) {
      await pods().create(
        pod(name, {
          runtimeClassName: 'runc',
          containers: [
            {
              name: 'c',
              image: runtime.busyboxRef,
              imagePullPolicy: 'IfNotPresent',
              command: ['sleep', '3600'],
            },
          ],
        }),
      );
    }
    const before = await waitForPod('stays', (p) => p.status?.phase === 'Running', 'stays Running');
    await waitForPod('goes', (p) => p.status?.phase === 'Running', 'goes Running');
    stop.abort();
    await running;
    // While the agent is away: one pod is deleted for good (as a user's --force would).
    await pods().delete('goes', { gracePeriodSeconds: 0 });
    await waitFor(async () => (await pods().find('goes')) === undefined, {
      timeoutMs: 30_000,
      description: 'goes gone from the API',
    });
    startAgent();
    await waitFor(async () => (await runtime.client.listPodSandbox()).length === 1, {
      timeoutMs: 60_000,
      description: 'the deleted pod cleaned up',
    });
    const after = await waitForPod(
      'stays',
      (p) => p.status?.phase === 'Running',
      'stays Running after restart',
    );
    assert.equal(
      after.status?.containerStatuses?.[0]?.containerID,
      before.status?.containerStatuses?.[0]?.containerID,
    );
    assert.equal(after.status?.containerStatuses?.[0]?.restartCount, 0);
    assert.equal((await runtime.client.listContainers()).length, 1, 'no duplicate container');
    await pods().delete('stays');
    await waitFor(async () => (await pods().find('stays')) === undefined, {
      timeoutMs: 60_000,
      description: 'stays deleted',
    });
  });
});
