/**
 * `npm run bench:scheduler`: scheduling throughput.
 *
 * 1. The algorithm: 5,000 pods (50 ReplicaSets) onto 500 nodes through the full default
 *    plugin set, against the same loop with only the resource filter and no scores
 *    (the baseline: what any scheduler must do). Target: at least 1,000 pods/s.
 * 2. Through the API: a real `h8s server`, 100 Node objects, 1,000 pods created at once;
 *    time until every pod is bound, against the time the API takes to create them (the
 *    baseline: a bind is one more write per pod).
 */
import { performance } from 'node:perf_hooks';
import { loadavg } from 'node:os';
import type { KubeObject, Node, Pod } from '../src/api/index.js';
import { builtinResources } from '../src/client/index.js';
import { startTestServer } from '../src/client/testing/test-server.js';
import { waitFor } from '../src/lib/index.js';
import {
  createScheduler,
  defaultFilters,
  defaultScores,
  newCycle,
  scheduleOne,
  SchedulerCache,
  type FilterPlugin,
  type ScorePlugin,
} from '../src/scheduler/index.js';
import { testNode, testPod } from '../src/scheduler/testing/fixtures.js';

function algorithm(
  nodes: number,
  pods: number,
  filters: readonly FilterPlugin[],
  scores: readonly ScorePlugin[],
): number {
  const cache = new SchedulerCache();
  for (let i = 0; i < nodes; i++)
    cache.upsertNode(
      testNode(`node-${i}`, {
        cpu: '32',
        memory: '128Gi',
        labels: { 'topology.kubernetes.io/zone': `z${i % 3}` },
      }),
    );
  cache.setNamespace('default', {});
  let start = 0;
  let placed = 0;
  const t0 = performance.now();
  for (let i = 0; i < pods; i++) {
    const pod = testPod(`p-${i}`, {
      cpu: '100m',
      memory: '128Mi',
      ownerUid: `rs-${i % 50}`,
      labels: { app: `a${i % 50}` },
    });
    const info = cache.infoOf(pod);
    const out = scheduleOne(newCycle(pod, info, cache), start, {
      filters,
      scores,
      percentageOfNodesToScore: 0,
      random: Math.random,
    });
    start = (start + out.evaluated) % nodes;
    if (out.node) {
      cache.assume(info, out.node.name);
      placed++;
    }
  }
  const s = (performance.now() - t0) / 1000;
  if (placed !== pods) throw new Error(`placed ${placed} of ${pods}`);
  return pods / s;
}

async function throughApi(
  nodeCount: number,
  podCount: number,
): Promise<{ createMs: number; bindMs: number }> {
  const server = await startTestServer({ disable: 'agent,runtime,controllers' });
  const stop = new AbortController();
  try {
    const client = server.client;
    const nodes = client.resource<Node & KubeObject>(builtinResources.nodes);
    for (let i = 0; i < nodeCount; i++) {
      const { status, ...rest } = testNode(`node-${i}`, { cpu: '32', memory: '128Gi' }) as Node & KubeObject;
      const created = await nodes.create(rest as Node & KubeObject);
      await nodes.updateStatus({ ...created, status } as Node & KubeObject);
    }
    const scheduler = createScheduler({ client, maxBindsInFlight: 64 });
    const running = scheduler.run(stop.signal);
    await scheduler.waitForSync();
    const pods = client.resource<Pod & KubeObject>(builtinResources.pods, 'default');
    const t0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        while (next < podCount) {
          const i = next++;
          const p = testPod(`p-${i}`, { cpu: '100m', memory: '128Mi', ownerUid: `rs-${i % 10}` }) as Pod &
            KubeObject;
          const { uid: _u, ownerReferences: _o, ...metadata } = p.metadata;
          await pods.create({ ...p, metadata } as Pod & KubeObject);
        }
      }),
    );
    const createMs = performance.now() - t0;
    await waitFor(() => scheduler.stats.scheduled >= podCount, {
      timeoutMs: 300_000,
      intervalMs: 20,
      description: 'every pod bound',
    });
    const bindMs = performance.now() - t0;
    stop.abort();
    await running;
    return { createMs, bindMs };
  } finally {
    stop.abort();
    await server.cleanup();
  }
}

const minimalFilters = defaultFilters.filter((f) => f.name === 'NodeResourcesFit');
const rounds = 3;
const full: number[] = [];
const minimal: number[] = [];
algorithm(100, 500, defaultFilters, defaultScores); // warm-up
for (let r = 0; r < rounds; r++) {
  full.push(algorithm(500, 5000, defaultFilters, defaultScores));
  minimal.push(algorithm(500, 5000, minimalFilters, []));
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
const f = median(full);
const m = median(minimal);
console.log(
  `load average ${loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')}`,
);
console.log(
  `algorithm, 5,000 pods on 500 nodes: full plugins ${f.toFixed(0)} pods/s, resources only ${m.toFixed(0)} pods/s (full/minimal ${(f / m).toFixed(2)}); target >= 1,000 pods/s: ${f >= 1000 ? 'met' : 'NOT met'}`,
);
const api = await throughApi(100, 1000);
const createRate = 1000 / (api.createMs / 1000);
const bindRate = 1000 / (api.bindMs / 1000);
console.log(
  `through the API, 1,000 pods on 100 nodes: created in ${api.createMs.toFixed(0)} ms (${createRate.toFixed(0)}/s), all bound ${api.bindMs.toFixed(0)} ms after the first create (${bindRate.toFixed(0)} pods/s; bound/created time ${(api.bindMs / api.createMs).toFixed(2)})`,
);
console.log(
  `load average ${loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')}`,
);
