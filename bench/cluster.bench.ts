/**
 * The one-node cluster benchmark (`npm run bench:cluster`; figures in docs/benchmarks.md).
 *
 * A real `h8s server` (API server, controllers, scheduler, its runtime daemon with a VM pool,
 * its agent), busybox from a loopback registry. Measured:
 *
 * 1. Pod startup latency, create to Running as a watch sees it, p50 and p99 over `--pods` pods
 *    (default 30), on pooled hyper and on runc. Each pod carries a ConfigMap volume and, once
 *    ServiceAccount admission adds it, its token volume. Pods are created one after the other,
 *    each once the pool is full again (as the baseline). Baseline in the same run: the same pod
 *    started straight through the runtime (`hyperctl run -d`, its "Time to run a POD") against
 *    the same daemon. Targets under TCG: hyper p50 <= 1 s and p99 <= 5 s, runc p50 <= 0.5 s, and
 *    the API path at most 400 ms p50 over the direct start.
 * 2. `--burst` pods (default 100, runc; `--burst-handler hyper` for VMs) created at once: the
 *    time until all are Running.
 * 3. RSS of the server, agent and runtime daemon together (the server's process tree without
 *    QEMU and the container monitors), idle and with the `--pods` hyper pods running. Target:
 *    at most 250 MiB idle for the three.
 *
 *   npm run bench:cluster -- [--pods 30] [--burst 100] [--burst-handler runc|hyper] [--json]
 *
 * Needs root (the runtime daemon), the guest bundle (`npm run setup`) and `npm run build`.
 */
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KubeObject, Pod } from '../src/api/index.js';
import { builtinResources } from '../src/client/index.js';
import { startTestServer } from '../src/client/testing/test-server.js';
import { pushBusybox } from '../src/images/testing/image-builder.js';
import { startTestRegistry } from '../src/images/testing/test-registry.js';
import { execFile, waitFor } from '../src/lib/index.js';
import { RuntimeClient } from '../src/runtime/index.js';
import { unmountAll } from '../src/runtime/host-mounts.js';
import { detectCgroupVersion, removeCgroupTree } from '../src/runtime/runc/cgroups.js';
import { killProcessesUnder } from '../src/runtime/testing/processes.js';
import { descendantsOf, rssMiB } from './process-tree.js';

const args = process.argv.slice(2);
const flag = (name: string, def: string): string => {
  const i = args.indexOf(name);
  return i >= 0 ? (args[i + 1] ?? def) : def;
};
const podCount = Number(flag('--pods', '30'));
const burst = Number(flag('--burst', '100'));
const burstHandler = flag('--burst-handler', 'runc');
const repo = new URL('..', import.meta.url).pathname;
const hyperctlBin = join(repo, 'bin', 'hyperctl.js');

const pct = (xs: readonly number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
};
const ms = (x: number): string => `${Math.round(x)} ms`;
type PodObject = Pod & KubeObject;

const nodeName = 'bench-node';
const cgroupParent = `/h8s-bench-cluster-${randomBytes(3).toString('hex')}`;
const registry = await startTestRegistry();
const image = (await pushBusybox(registry.host)).ref;
const server = await startTestServer({
  disable: '',
  extraArgs: ['--node-name', nodeName],
  env: {
    H8S_RUNTIME_POOL_SIZE: '1',
    H8S_RUNTIME_CGROUP_PARENT: cgroupParent,
    H8S_RUNTIME_LOG_LEVEL: 'warn',
    H8S_AGENT_LOG_LEVEL: 'warn',
  },
  startTimeoutMs: 180_000,
});
const endpoint = `unix://${join(server.dataDir, 'runtime.sock')}`;
const runtime = new RuntimeClient({ endpoint });
const client = server.client;
const pods = client.resource<PodObject>(builtinResources.pods, 'default');
const out: Record<string, unknown> = {};

/** The `h8s server` process of this run (a node process with `server` and our data dir). */
async function serverProcess(): Promise<number> {
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const argv = (await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (argv.includes('server') && argv.includes(server.dataDir)) return Number(name);
  }
  throw new Error(`No h8s server process with data dir ${server.dataDir}`);
}

/** The server, agent and runtime daemon: the server's process tree without VMs and monitors. */
async function controlPlaneRssMiB(): Promise<{ total: number; byRole: Record<string, number> }> {
  const serverPid = await serverProcess();
  const byRole: Record<string, number> = { server: await rssMiB(serverPid) };
  for (const pid of await descendantsOf(serverPid)) {
    const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
    const role = argv[0]?.endsWith('node') ? (argv.find((a) => a === 'agent' || a === 'runtime') ?? '') : '';
    if (role) byRole[role] = (byRole[role] ?? 0) + (await rssMiB(pid).catch(() => 0));
  }
  return { total: Object.values(byRole).reduce((a, b) => a + b, 0), byRole };
}

async function poolFull(): Promise<void> {
  await waitFor(
    async () => {
      const info = await runtime.info();
      const hyper = info.handlers.find((h) => h.name === 'hyper');
      return Number(hyper?.details['poolReady'] ?? 0) >= 1;
    },
    { timeoutMs: 300_000, intervalMs: 200, description: 'the VM pool to be full' },
  );
}

function podManifest(name: string, handler: string): PodObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', labels: { bench: 'cluster' } },
    spec: {
      runtimeClassName: handler,
      terminationGracePeriodSeconds: 0,
      volumes: [{ name: 'cfg', configMap: { name: 'bench-config' } }],
      containers: [
        {
          name: 'main',
          image,
          imagePullPolicy: 'IfNotPresent',
          command: ['sleep', '100000'],
          volumeMounts: [{ name: 'cfg', mountPath: '/etc/bench' }],
          resources: { limits: { memory: '128Mi' } },
        },
      ],
    },
  } as PodObject;
}

/** Creates the pods and resolves with each one's create-to-Running time as the watch saw it. */
async function startAndTime(names: readonly string[], handler: string, oneByOne: boolean): Promise<number[]> {
  const created = new Map<string, number>();
  const running = new Map<string, number>();
  const abort = new AbortController();
  const list = await pods.list();
  const watching = (async () => {
    for await (const ev of pods.watch({
      resourceVersion: list.metadata?.resourceVersion,
      signal: abort.signal,
    })) {
      const p = ev.object as PodObject;
      const name = p.metadata?.name ?? '';
      if (created.has(name) && !running.has(name) && p.status?.phase === 'Running')
        running.set(name, performance.now());
    }
  })().catch((err: unknown) => {
    if (!abort.signal.aborted) throw err;
  });
  const create = async (name: string): Promise<void> => {
    created.set(name, performance.now());
    await pods.create(podManifest(name, handler));
  };
  try {
    if (oneByOne) {
      for (const name of names) {
        if (handler === 'hyper') await poolFull();
        await create(name);
        await waitFor(() => running.has(name), {
          timeoutMs: 300_000,
          intervalMs: 20,
          description: `pod ${name} Running`,
        });
      }
    } else {
      await Promise.all(names.map(create));
      await waitFor(() => names.every((n) => running.has(n)), {
        timeoutMs: 1_800_000,
        intervalMs: 100,
        description: `all ${names.length} pods Running`,
      });
    }
  } finally {
    abort.abort();
    await watching;
  }
  return names.map((n) => (running.get(n) as number) - (created.get(n) as number));
}

async function deleteAll(): Promise<void> {
  const all = (await pods.list({ labelSelector: 'bench=cluster' })).items;
  await Promise.all(all.map((p) => pods.delete(p.metadata?.name ?? '', { gracePeriodSeconds: 0 })));
  await waitFor(async () => (await pods.list({ labelSelector: 'bench=cluster' })).items.length === 0, {
    timeoutMs: 600_000,
    description: 'the benchmark pods to be gone',
  });
}

/** `hyperctl run -d` against the same daemon: its own "Time to run a POD". */
async function directStarts(handler: string, n: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    if (handler === 'hyper') await poolFull();
    const r = await execFile(
      [
        process.execPath,
        hyperctlBin,
        '--host',
        endpoint,
        'run',
        '-d',
        '--runtime',
        handler,
        image,
        'sleep',
        '100000',
      ],
      { check: false, timeoutMs: 300_000 },
    );
    const m = /Time to run a POD is (\d+) ms/.exec(r.stdout);
    if (!m) throw new Error(`hyperctl run failed: ${r.stderr.trim().slice(0, 500)}`);
    times.push(Number(m[1]));
    const id = /POD id is (\S+)/.exec(r.stdout)?.[1];
    if (id)
      await execFile([process.execPath, hyperctlBin, '--host', endpoint, 'rm', '-f', id], {
        timeoutMs: 120_000,
      });
  }
  return times;
}

try {
  await waitFor(
    async () => {
      const node = await client
        .resource<KubeObject & { status?: { conditions?: { type: string; status: string }[] } }>(
          builtinResources.nodes,
        )
        .find(nodeName);
      return node?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
    },
    { timeoutMs: 180_000, description: 'the node to be Ready' },
  );
  await client.resource(builtinResources.configMaps, 'default').create({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'bench-config', namespace: 'default' },
    data: { 'bench.conf': 'answer = 42\n' },
  } as KubeObject);
  // the image is pulled once, outside the measurement (as the baseline's daemon has it)
  await runtime.images.pullImage(image);
  await new Promise((r) => setTimeout(r, 10_000));
  const idle = await controlPlaneRssMiB();
  out['idleRssMiB'] = idle;
  console.log(
    `idle RSS: ${idle.total.toFixed(0)} MiB for server + agent + runtime (${Object.entries(idle.byRole)
      .map(([k, v]) => `${k} ${v.toFixed(0)}`)
      .join(', ')}); target <= 250 MiB`,
  );

  for (const handler of ['hyper', 'runc']) {
    const direct = await directStarts(handler, Math.min(podCount, 10));
    const names = Array.from({ length: podCount }, (_, i) => `${handler}-${i}`);
    const api = await startAndTime(names, handler, true);
    if (handler === 'hyper') {
      const loaded = await controlPlaneRssMiB();
      out['rssWithPodsMiB'] = loaded;
      console.log(
        `RSS with ${podCount} VM pods: ${loaded.total.toFixed(0)} MiB for server + agent + runtime`,
      );
    }
    await deleteAll();
    const p50 = pct(api, 50);
    const d50 = pct(direct, 50);
    out[handler] = { apiP50Ms: p50, apiP99Ms: pct(api, 99), directP50Ms: d50, directP99Ms: pct(direct, 99) };
    const target = handler === 'hyper' ? 'p50 <= 1000 ms, p99 <= 5000 ms' : 'p50 <= 500 ms';
    console.log(
      `${handler}: create -> Running p50 ${ms(p50)}, p99 ${ms(pct(api, 99))} over ${api.length} pods (${target}); ` +
        `hyperctl run -d p50 ${ms(d50)}, p99 ${ms(pct(direct, 99))} over ${direct.length}; API path adds ${ms(p50 - d50)} p50 (target <= 400 ms)`,
    );
  }

  if (burst > 0) {
    const names = Array.from({ length: burst }, (_, i) => `burst-${i}`);
    const t0 = performance.now();
    const times = await startAndTime(names, burstHandler, false);
    const allMs = performance.now() - t0;
    out['burst'] = { handler: burstHandler, pods: burst, allRunningMs: allMs, p50Ms: pct(times, 50) };
    console.log(
      `${burst} ${burstHandler} pods created at once: all Running after ${ms(allMs)} (p50 ${ms(pct(times, 50))})`,
    );
    await deleteAll();
  }
  if (args.includes('--json')) console.log(JSON.stringify(out));
} finally {
  for (const s of await runtime.listPodSandbox().catch(() => []))
    await runtime.removePodSandbox(s.id).catch(() => undefined);
  runtime.close();
  await server.stop();
  await killProcessesUnder(server.dataDir);
  await unmountAll(server.dataDir).catch(() => undefined);
  await removeCgroupTree(cgroupParent, await detectCgroupVersion());
  await server.cleanup();
  await registry.stop();
}
