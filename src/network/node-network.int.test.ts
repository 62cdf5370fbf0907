/**
 * The node's network plumbing for real, in a fresh network namespace standing for the node
 * (DESIGN.md section 1): a network with its bridge and router, three runc-style pods (plain
 * pinned namespaces with busybox httpd, reached with curl: busybox's wget crashes here), pod-to-pod, pod-to-gateway, pod-to-node and
 * node-to-pod traffic, a hostPort, a ClusterIP balanced over two endpoints, and a clean
 * teardown (no namespace, bridge, veth or nftables table left). Private ranges only; every
 * name carries a random suffix so parallel runs do not collide.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMemoryLogger, execFile, spawnProcess, waitFor, type ChildHandle } from '../lib/index.js';
import {
  networkDeviceNames,
  NodeNetwork,
  podDeviceNames,
  type NetworkSpec,
  type PodAttachment,
} from './index.js';

const suffix = randomBytes(3).toString('hex');
const octet = 16 + ((randomBytes(1)[0] ?? 0) % 200);
const nodeNetns = `h8s-test-node-${suffix}`;
const nodeName = `test-node-${suffix}`;
const nodeIp = `192.168.${octet}.1`;
const spec: NetworkSpec = {
  name: 'default',
  subnet: `10.${octet}.0.0/16`,
  block: `10.${octet}.1.0/24`,
  transitCidr: `198.18.${octet}.0/30`,
};
const clusterIp = `172.16.${octet}.10`;
const pods = ['pod-a', 'pod-b', 'pod-c'].map((p) => `${p}-${suffix}`);
const { log, records } = createMemoryLogger('debug');
let dir: string;
let net: NodeNetwork;
const attached = new Map<string, PodAttachment>();
const servers: ChildHandle[] = [];

const inNs = (ns: string, argv: string[], check = true) =>
  execFile(['ip', 'netns', 'exec', ns, ...argv], { check, timeoutMs: 15_000 });
const fetchFrom = async (ns: string, url: string): Promise<string> =>
  (await inNs(ns, ['curl', '-sS', '--max-time', '3', url])).stdout.trim();
const podNs = (i: number): string => podDeviceNames(pods[i] ?? '').netns;

async function netnsNames(): Promise<string[]> {
  try {
    return await readdir('/run/netns');
  } catch {
    return [];
  }
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'h8s-net-test-'));
  // PRIVILEGED (test): the node's own namespace with an "underlay" address; removed below.
  await execFile(['ip', 'netns', 'add', nodeNetns]);
  await inNs(nodeNetns, ['ip', 'link', 'set', 'lo', 'up']);
  // (no dummy interfaces on this kernel: the node's address sits on its loopback)
  await inNs(nodeNetns, ['ip', 'addr', 'add', `${nodeIp}/32`, 'dev', 'lo']);
  net = new NodeNetwork({ nodeName, stateDir: join(dir, 'network'), log, nodeNetns });
});

after(async () => {
  for (const s of servers) await s.stop(1_000);
  // Clean up also after a failure: by the derived names, whatever state the test left.
  await net?.removeNetwork(spec).catch(() => undefined);
  const names = networkDeviceNames(nodeName, spec.name);
  for (const ns of [names.routerNetns, ...pods.map((p) => podDeviceNames(p).netns), nodeNetns]) {
    if ((await netnsNames()).includes(ns)) await execFile(['ip', 'netns', 'del', ns], { check: false });
  }
  if (process.exitCode) {
    console.error(`test dir: ${dir}`);
    console.error(
      records
        .slice(-50)
        .map((r) => JSON.stringify(r))
        .join('\n'),
    );
  }
  await rm(dir, { recursive: true, force: true });
});

describe('NodeNetwork', () => {
  it('plumbs pods on a bridge behind their router', async () => {
    await net.ensureNetwork(spec);
    await net.ensureNetwork(spec); // idempotent
    for (const [i, key] of pods.entries()) {
      const hostPorts = i === 0 ? [{ protocol: 'TCP' as const, hostPort: 18080, containerPort: 8080 }] : [];
      const a = await net.attachPod(spec.name, key, { kind: 'veth', hostPorts });
      assert.deepEqual(await net.attachPod(spec.name, key, { kind: 'veth' }), a, 'attachPod is idempotent');
      attached.set(key, a);
    }
    const ips = pods.map((p) => attached.get(p)?.ip ?? '');
    assert.equal(new Set(ips).size, 3, 'every pod has its own address');
    assert.equal(attached.get(pods[0] ?? '')?.gateway, `10.${octet}.1.1`);
    assert.equal(attached.get(pods[0] ?? '')?.netnsPath, `/run/netns/${podNs(0)}`);
    for (const i of [0, 1]) {
      const www = join(dir, `www-${i}`);
      await mkdir(www);
      await writeFile(join(www, 'index.html'), `pod-${i}\n`);
      servers.push(
        await spawnProcess([
          'ip',
          'netns',
          'exec',
          podNs(i),
          'busybox',
          'httpd',
          '-f',
          '-p',
          '8080',
          '-h',
          www,
        ]),
      );
    }
    await waitFor(() => fetchFrom(podNs(2), `http://${ips[0]}:8080/`).then((t) => t === 'pod-0'), {
      timeoutMs: 10_000,
      description: 'pod-a serving',
    });
    assert.equal(await fetchFrom(podNs(2), `http://${ips[1]}:8080/`), 'pod-1', 'pod to pod');
    await inNs(podNs(2), ['busybox', 'ping', '-c', '1', '-W', '2', `10.${octet}.1.1`]); // pod to gateway
    await inNs(podNs(2), ['busybox', 'ping', '-c', '1', '-W', '2', nodeIp]); // pod to its node
    assert.equal(await fetchFrom(nodeNetns, `http://${ips[1]}:8080/`), 'pod-1', 'node to pod');
    assert.equal(await fetchFrom(nodeNetns, `http://${nodeIp}:18080/`), 'pod-0', 'hostPort on the node');
  });

  it('balances a ClusterIP over its endpoints, also for a pod reaching itself', async () => {
    const ips = pods.map((p) => attached.get(p)?.ip ?? '');
    const endpoints = [0, 1].map((i) => ({ ip: ips[i] ?? '', port: 8080 }));
    await net.syncServices(spec.name, [
      {
        namespace: 'default',
        name: 'web',
        clusterIPs: [clusterIp],
        externalIPs: [],
        affinitySeconds: undefined,
        ports: [
          {
            name: 'http',
            protocol: 'TCP',
            port: 80,
            nodePort: 30080,
            clusterEndpoints: endpoints,
            externalEndpoints: endpoints,
          },
        ],
      },
    ]);
    const seen = new Set<string>();
    for (let i = 0; i < 30 && seen.size < 2; i++) seen.add(await fetchFrom(podNs(2), `http://${clusterIp}/`));
    assert.deepEqual([...seen].sort(), ['pod-0', 'pod-1'], 'both endpoints answer');
    // Hairpin: an endpoint reaching its own Service (the reply must come back through the router).
    for (let i = 0; i < 6; i++) assert.match(await fetchFrom(podNs(0), `http://${clusterIp}/`), /^pod-[01]$/);
    assert.match(await fetchFrom(nodeNetns, `http://${nodeIp}:30080/`), /^pod-[01]$/, 'NodePort on the node');

    // ClientIP affinity: one client sticks to one endpoint.
    await net.syncServices(spec.name, [
      {
        namespace: 'default',
        name: 'web',
        clusterIPs: [clusterIp],
        externalIPs: [],
        affinitySeconds: 60,
        ports: [
          {
            name: 'http',
            protocol: 'TCP',
            port: 80,
            nodePort: undefined,
            clusterEndpoints: endpoints,
            externalEndpoints: endpoints,
          },
        ],
      },
    ]);
    const sticky = new Set<string>();
    for (let i = 0; i < 8; i++) sticky.add(await fetchFrom(podNs(2), `http://${clusterIp}/`));
    assert.equal(sticky.size, 1, 'affinity keeps the client on one endpoint');

    // No endpoints: refused at once (not a time-out).
    await net.syncServices(spec.name, [
      {
        namespace: 'default',
        name: 'web',
        clusterIPs: [clusterIp],
        externalIPs: [],
        affinitySeconds: undefined,
        ports: [
          {
            name: 'http',
            protocol: 'TCP',
            port: 80,
            nodePort: undefined,
            clusterEndpoints: [],
            externalEndpoints: [],
          },
        ],
      },
    ]);
    const res = await inNs(podNs(2), ['curl', '-sS', '--max-time', '3', `http://${clusterIp}/`], false);
    // curl's exit code 7: the connection was refused (a time-out would be 28).
    assert.equal(res.exitCode, 7, `curl: ${res.exitCode} ${String(res.exitSignal)} ${res.stderr}`);
  });

  it('gives a VM pod a tap on the bridge with a stable MAC', async () => {
    const key = `pod-vm-${suffix}`;
    const a = await net.attachPod(spec.name, key, { kind: 'tap' });
    assert.equal(a.netnsPath, undefined);
    assert.equal(a.hostDevice, podDeviceNames(key).tap);
    assert.equal(a.mac, podDeviceNames(key).mac);
    assert.match(a.mac, /^02(:[0-9a-f]{2}){5}$/);
    const link = (await inNs(nodeNetns, ['ip', '-o', 'link', 'show', 'dev', a.hostDevice])).stdout;
    assert.match(link, new RegExp(`master ${networkDeviceNames(nodeName, spec.name).bridge}`));
    await net.detachPod(key);
    const gone = await inNs(nodeNetns, ['ip', '-o', 'link', 'show', 'dev', a.hostDevice], false);
    assert.notEqual(gone.exitCode, 0, 'the tap is removed');
  });

  it('frees addresses of pods no longer running and leaves nothing behind', async () => {
    for (const s of servers.splice(0)) await s.stop(1_000);
    const freed = await net.releaseAllBut(spec.name, new Set([pods[0] ?? '']));
    assert.deepEqual(freed.sort(), [pods[1], pods[2]].sort());
    assert.equal((await netnsNames()).includes(podNs(1)), false);
    await net.detachPod(pods[0] ?? '');
    await net.detachPod(pods[0] ?? ''); // idempotent
    await net.removeNetwork(spec);
    const names = networkDeviceNames(nodeName, spec.name);
    const left = await netnsNames();
    for (const ns of [names.routerNetns, ...pods.map((p) => podDeviceNames(p).netns)]) {
      assert.equal(left.includes(ns), false, `namespace ${ns} is gone`);
    }
    const links = (await inNs(nodeNetns, ['ip', '-o', 'link', 'show'])).stdout;
    assert.doesNotMatch(links, /h8[bguvt][0-9a-f]{12}/, 'no bridge, veth or tap is left');
    const tables = (await inNs(nodeNetns, ['nft', 'list', 'tables'])).stdout;
    assert.doesNotMatch(tables, /h8s-/, 'no nftables table is left');
  });
});
