/**
 * The agent's pod network for real: a runc pod created through the API gets an address of the
 * node's block (status.podIP), answers on it from the node, and leaves no namespace, device
 * or address behind when deleted. The node is a fresh network namespace (DESIGN.md section 1),
 * so nothing touches the host's network; names carry a random suffix.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeObject, Pod } from '../api/index.js';
import { builtinResources, type ApiClient } from '../client/index.js';
import { startTestServer, type TestServer } from '../client/testing/test-server.js';
import { createMemoryLogger, execFile, waitFor } from '../lib/index.js';
import { networkDeviceNames, NodeNetwork, podDeviceNames } from '../network/index.js';
import { startTestRuntime, type TestRuntime } from '../runtime/testing/test-runtime.js';
import { createAgent, PlumbedPodNetworking } from './index.js';

const suffix = randomBytes(3).toString('hex');
const nodeName = `net-node-${suffix}`;
const nodeNetns = `h8s-test-agent-${suffix}`;
let server: TestServer;
let runtime: TestRuntime;
let client: ApiClient;
let dataDir: string;
let network: NodeNetwork;
const stop = new AbortController();
let running: Promise<void> | undefined;
const { log, records } = createMemoryLogger('debug');
type PodObject = Pod & KubeObject;

const inNode = (argv: string[]) =>
  execFile(['ip', 'netns', 'exec', nodeNetns, ...argv], { timeoutMs: 15_000 });

async function netnsNames(): Promise<string[]> {
  try {
    return await readdir('/run/netns');
  } catch {
    return [];
  }
}

before(async () => {
  [server, runtime] = await Promise.all([
    // controllers on: the EndpointSlice controller feeds the service proxy
    startTestServer({ disable: 'agent,runtime,scheduler' }),
    startTestRuntime({ handlers: ['runc'] }),
  ]);
  client = server.client;
  await client
    .resource(builtinResources.runtimeClasses)
    .create({
      apiVersion: 'node.k8s.io/v1',
      kind: 'RuntimeClass',
      metadata: { name: 'runc' },
      handler: 'runc',
    } as KubeObject)
    .catch(() => undefined);
  // The server creates `default` at bootstrap; an older build may not: create it then.
  await client
    .resource(builtinResources.networks)
    .create({
      apiVersion: 'v1',
      kind: 'Network',
      metadata: { name: 'default' },
      spec: { tenantID: 'default', subnets: { default: { cidr: '10.42.0.0/16' } } },
    } as KubeObject)
    .catch(() => undefined);
  // pods need the namespace's default ServiceAccount, which the controllers create
  await waitFor(
    async () =>
      (await client.resource(builtinResources.serviceAccounts, 'default').find('default')) !== undefined,
    {
      timeoutMs: 60_000,
      description: 'the default ServiceAccount',
    },
  );
  dataDir = await mkdtemp(join(tmpdir(), 'h8s-agent-net-'));
  // PRIVILEGED (test): the node's own namespace; removed below.
  await execFile(['ip', 'netns', 'add', nodeNetns]);
  await inNode(['ip', 'link', 'set', 'lo', 'up']);
  const stateDir = join(dataDir, 'network');
  network = new NodeNetwork({ nodeName, stateDir, log, nodeNetns });
  const pods = new PlumbedPodNetworking({ client, network, nodeName, stateDir, log });
  const agent = createAgent({
    client,
    runtime: runtime.client,
    log,
    network: pods,
    services: pods,
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
});

after(async () => {
  stop.abort();
  await running;
  if (process.exitCode) {
    console.error(`data dir: ${dataDir}`);
    console.error(
      records
        .slice(-80)
        .map((r) => JSON.stringify(r))
        .join('\n'),
    );
  }
  await runtime?.stop();
  await network?.removeNetwork({ name: 'default' }).catch(() => undefined);
  const names = networkDeviceNames(nodeName, 'default');
  for (const ns of [names.routerNetns, nodeNetns]) {
    if ((await netnsNames()).includes(ns)) await execFile(['ip', 'netns', 'del', ns], { check: false });
  }
  await server?.cleanup();
  await rm(dataDir, { recursive: true, force: true });
});

describe('agent pod network', () => {
  it('serves three pods behind a ClusterIP Service to another pod, spread over the three', async () => {
    const pods = client.resource<PodObject>(builtinResources.pods, 'default');
    const backend = (i: number): PodObject =>
      ({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: `be-${i}`, namespace: 'default', labels: { app: 'be' } },
        spec: {
          nodeName,
          runtimeClassName: 'runc',
          terminationGracePeriodSeconds: 1,
          containers: [
            {
              name: 'web',
              image: runtime.busyboxRef,
              imagePullPolicy: 'IfNotPresent',
              command: [
                'sh',
                '-c',
                `mkdir -p /w && echo be-${i} > /w/index.html && exec httpd -f -p 8080 -h /w`,
              ],
              ports: [{ name: 'http', containerPort: 8080 }],
              readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
            },
          ],
        },
      }) as PodObject;
    for (let i = 0; i < 3; i++) await pods.create(backend(i));
    await pods.create({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'client', namespace: 'default' },
      spec: {
        nodeName,
        runtimeClassName: 'runc',
        terminationGracePeriodSeconds: 1,
        containers: [
          {
            name: 'sh',
            image: runtime.busyboxRef,
            imagePullPolicy: 'IfNotPresent',
            command: ['sleep', '3600'],
          },
        ],
      },
    } as PodObject);
    const services = client.resource<KubeObject & { spec?: { clusterIP?: string } }>(
      builtinResources.services,
      'default',
    );
    const svc = await services.create({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'be', namespace: 'default' },
      spec: { selector: { app: 'be' }, ports: [{ port: 80, targetPort: 'http' }] },
    } as KubeObject);
    const clusterIp = svc.spec?.clusterIP ?? '';
    assert.match(clusterIp, /^10\.43\./, 'a cluster IP from the service range');
    const slices = client.resource<KubeObject & { endpoints?: { conditions?: { ready?: boolean } }[] }>(
      builtinResources.endpointSlices,
      'default',
    );
    await waitFor(
      async () => {
        const list = await slices.list({ labelSelector: 'kubernetes.io/service-name=be' });
        return list.items.flatMap((x) => x.endpoints ?? []).filter((e) => e.conditions?.ready).length === 3;
      },
      { timeoutMs: 120_000, description: 'three ready endpoints' },
    );
    const clientContainer = await waitFor(
      async () =>
        (await runtime.client.listContainers({ state: 'CONTAINER_RUNNING' })).find(
          (c) => c.metadata.name === 'sh',
        ),
      { timeoutMs: 60_000, description: 'the client pod running' },
    );
    const get = async (): Promise<string> => {
      const r = await runtime.client.execSync(
        clientContainer.id,
        ['sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${clusterIp} 80 | tail -n 1`],
        10,
      );
      return Buffer.from(r.stdout).toString().trim();
    };
    await waitFor(async () => /^be-\d$/.test(await get()), {
      timeoutMs: 30_000,
      description: 'the ClusterIP to answer',
    });
    const seen = new Set<string>();
    for (let i = 0; i < 40 && seen.size < 3; i++) seen.add(await get());
    assert.deepEqual(
      [...seen].sort(),
      ['be-0', 'be-1', 'be-2'],
      'every backend answered through the ClusterIP',
    );
    await services.delete('be');
    for (const name of ['be-0', 'be-1', 'be-2', 'client']) await pods.delete(name);
    await waitFor(async () => (await pods.list()).items.length === 0, {
      timeoutMs: 60_000,
      description: 'pods deleted',
    });
  });

  it('gives a runc pod an address the node reaches, and frees it on delete', async () => {
    const pods = client.resource<PodObject>(builtinResources.pods, 'default');
    await pods.create({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'web', namespace: 'default' },
      spec: {
        nodeName,
        runtimeClassName: 'runc',
        terminationGracePeriodSeconds: 2,
        containers: [
          {
            name: 'web',
            image: runtime.busyboxRef,
            imagePullPolicy: 'IfNotPresent',
            command: ['sh', '-c', 'mkdir -p /w && echo hello > /w/index.html && exec httpd -f -p 8080 -h /w'],
          },
        ],
      },
    } as PodObject);
    let last: PodObject | undefined;
    const ip = await waitFor(
      async () => {
        last = await pods.find('web');
        return last?.status?.phase === 'Running' ? last.status.podIP : undefined;
      },
      { timeoutMs: 60_000, description: 'pod Running with an IP' },
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}; last status: ${JSON.stringify(last?.status ?? {})}`);
    });
    assert.match(ip, /^10\.42\.\d+\.\d+$/);
    assert.deepEqual(last?.status?.podIPs, [{ ip }]);
    const body = await waitFor(
      async () => (await inNode(['curl', '-sS', '--max-time', '2', `http://${ip}:8080/`])).stdout.trim(),
      { timeoutMs: 20_000, description: 'the pod answering on its address' },
    );
    assert.equal(body, 'hello');
    const uid = last?.metadata.uid ?? '';
    assert.ok((await netnsNames()).includes(podDeviceNames(uid).netns));

    await pods.delete('web');
    await waitFor(async () => (await pods.find('web')) === undefined, {
      timeoutMs: 60_000,
      description: 'pod deleted',
    });
    assert.equal(
      (await netnsNames()).includes(podDeviceNames(uid).netns),
      false,
      'the pod namespace is gone',
    );
    const pool = JSON.parse(
      await readFile(join(dataDir, 'network', 'default', 'addresses.json'), 'utf8'),
    ) as {
      allocations: unknown[];
    };
    assert.deepEqual(pool.allocations, [], 'the address is free again');
  });
});
