/**
 * The agent with VM pods: a real `h8s runtime` daemon (hyper handler, QEMU under TCG here), a
 * real `h8s server`, pods created through the API. Exec probes run through the guest agent.
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
import { defaultGuestDir } from '../runtime/index.js';
import { repoRoot, startTestRuntime, type TestRuntime } from '../runtime/testing/test-runtime.js';
import { createAgent } from './index.js';

let server: TestServer;
let runtime: TestRuntime;
let client: ApiClient;
let dataDir: string;
const stop = new AbortController();
let running: Promise<void>;
const { log, records } = createMemoryLogger('debug');
const nodeName = 'vm-node';
type PodObject = Pod & KubeObject;

before(async () => {
  [server, runtime] = await Promise.all([
    startTestServer({ disable: 'agent,runtime,controllers,scheduler' }),
    startTestRuntime({
      childProcess: true,
      handlers: ['hyper'],
      extraArgs: ['--guest-dir', defaultGuestDir(repoRoot), '--pool-size', '1'],
    }),
  ]);
  client = server.client;
  await client
    .resource(builtinResources.runtimeClasses)
    .create({
      apiVersion: 'node.k8s.io/v1',
      kind: 'RuntimeClass',
      metadata: { name: 'hyper' },
      handler: 'hyper',
    } as KubeObject)
    .catch(() => undefined);
  dataDir = await mkdtemp(join(tmpdir(), 'h8s-agent-hyper-'));
  running = createAgent({
    client,
    runtime: runtime.client,
    log,
    config: {
      nodeName,
      dataDir,
      addresses: ['127.0.0.1'],
      streamingPort: 10250,
      kubeletVersion: 'v1.33.0',
      relistMs: 250,
    },
  }).run(stop.signal);
});

after(async () => {
  stop.abort();
  await running;
  if (process.exitCode) {
    console.error(
      records
        .slice(-150)
        .map((r) => JSON.stringify(r))
        .join('\n'),
    );
    console.error(runtime?.logs().slice(-5000));
  }
  await runtime?.stop();
  await server?.cleanup();
  await rm(dataDir, { recursive: true, force: true });
});

const pods = () => client.resource<PodObject>(builtinResources.pods, 'default');

async function waitForPod(
  name: string,
  ok: (p: PodObject) => boolean,
  what: string,
  timeoutMs = 240_000,
): Promise<PodObject> {
  let last: PodObject | undefined;
  try {
    await waitFor(
      async () => {
        last = await pods().find(name);
        return last !== undefined && ok(last);
      },
      { timeoutMs, description: what, maxIntervalMs: 500 },
    );
  } catch (err) {
    throw new Error(`${String(err)}; last status of "${name}": ${JSON.stringify(last?.status ?? {})}`, {
      cause: err,
    });
  }
  return last as PodObject;
}

describe('agent (hyper VM pods)', { timeout: 900_000 }, () => {
  it('runs a VM pod (the default handler) to Ready through an exec readiness probe, then removes its VM', async () => {
    await pods().create({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'vm', namespace: 'default' },
      spec: {
        nodeName,
        terminationGracePeriodSeconds: 2,
        containers: [
          {
            name: 'main',
            image: runtime.busyboxRef,
            imagePullPolicy: 'IfNotPresent',
            command: ['sh', '-c', 'touch /tmp/ready; exec sleep 3600'],
            readinessProbe: {
              exec: { command: ['cat', '/tmp/ready'] },
              periodSeconds: 2,
              timeoutSeconds: 30,
            },
            resources: { limits: { memory: '128Mi' } },
          },
        ],
      },
    } as PodObject);
    const p = await waitForPod('vm', (x) => x.status?.containerStatuses?.[0]?.ready === true, 'vm Ready');
    assert.ok(p.status?.containerStatuses?.[0]?.containerID?.startsWith('hyper://'));
    assert.equal(p.status?.qosClass, 'Burstable');
    const sandboxes = await runtime.client.listPodSandbox();
    assert.equal(sandboxes.length, 1);
    assert.equal(sandboxes[0]?.runtimeHandler, 'hyper');
    await pods().delete('vm');
    await waitFor(async () => (await pods().find('vm')) === undefined, {
      timeoutMs: 120_000,
      description: 'vm deleted',
    });
    await waitFor(async () => (await runtime.client.listPodSandbox()).length === 0, {
      timeoutMs: 60_000,
      description: 'VM removed',
    });
  });

  it('gives a VM pod its ConfigMap volume, shows an update inside the VM within 60 s, and reports a termination message', async () => {
    const configMaps = client.resource<KubeObject & { data?: Record<string, string> }>(
      builtinResources.configMaps,
      'default',
    );
    await configMaps.create({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'vm-config', namespace: 'default' },
      data: { greeting: 'first' },
    } as KubeObject);
    await pods().create({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'vm-files', namespace: 'default' },
      spec: {
        nodeName,
        restartPolicy: 'OnFailure',
        terminationGracePeriodSeconds: 2,
        volumes: [{ name: 'cfg', configMap: { name: 'vm-config' } }],
        containers: [
          {
            name: 'main',
            image: runtime.busyboxRef,
            imagePullPolicy: 'IfNotPresent',
            command: ['sleep', '3600'],
            volumeMounts: [{ name: 'cfg', mountPath: '/etc/cfg' }],
          },
          {
            name: 'done',
            image: runtime.busyboxRef,
            imagePullPolicy: 'IfNotPresent',
            command: ['sh', '-c', 'printf "finished cleanly" > /dev/termination-log'],
          },
        ],
      },
    } as PodObject);
    const p = await waitForPod(
      'vm-files',
      (x) =>
        x.status?.containerStatuses?.find((c) => c.name === 'done')?.state?.terminated !== undefined &&
        x.status?.containerStatuses?.find((c) => c.name === 'main')?.state?.running !== undefined,
      'vm-files running, its "done" container terminated',
    );
    const done = p.status?.containerStatuses?.find((c) => c.name === 'done');
    assert.equal(done?.state?.terminated?.message, 'finished cleanly');
    const main = (await runtime.client.listContainers({ state: 'CONTAINER_RUNNING' })).find(
      (c) => c.metadata.name === 'main',
    );
    assert.ok(main, 'the main container runs');
    const cat = async (): Promise<string> =>
      Buffer.from(
        (await runtime.client.execSync(main.id, ['cat', '/etc/cfg/greeting'], 20)).stdout,
      ).toString();
    assert.equal(await cat(), 'first');
    const cm = await configMaps.get('vm-config');
    await configMaps.update({ ...cm, data: { greeting: 'second' } });
    await waitFor(async () => (await cat()) === 'second', {
      timeoutMs: 60_000,
      description: 'the ConfigMap update inside the VM',
    });
    await pods().delete('vm-files');
    await waitFor(async () => (await pods().find('vm-files')) === undefined, {
      timeoutMs: 120_000,
      description: 'vm-files deleted',
    });
    await configMaps.delete('vm-config');
  });

  it('refuses hostNetwork on RuntimeClass hyper with a clear event and a Failed pod', async () => {
    await pods().create({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'hostnet', namespace: 'default' },
      spec: {
        nodeName,
        runtimeClassName: 'hyper',
        hostNetwork: true,
        containers: [{ name: 'c', image: runtime.busyboxRef }],
      },
    } as PodObject);
    const p = await waitForPod('hostnet', (x) => x.status?.phase === 'Failed', 'hostnet Failed', 60_000);
    assert.match(p.status?.message ?? '', /cannot share the host/);
    const events = await client
      .resource(builtinResources.events, 'default')
      .list({ fieldSelector: 'involvedObject.name=hostnet' });
    assert.ok(
      events.items.some((e) => (e as KubeObject & { reason?: string }).reason === 'FailedCreatePodSandBox'),
    );
    await pods().delete('hostnet');
  });
});
