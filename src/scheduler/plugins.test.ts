import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod } from '../api/index.js';
import { failureMessage } from './framework.js';
import { defaultFilters, defaultScores } from './plugins/index.js';
import { findPreemption } from './preemption.js';
import { feasibleNodesToFind, newCycle, scheduleOne, type ScheduleOutcome } from './schedule-one.js';
import { SchedulerCache } from './scheduler-cache.js';
import { podRequests } from './resources.js';
import { testNode, testPod, type NodeFixture } from './testing/fixtures.js';

function cluster(nodes: Record<string, NodeFixture>, pods: Pod[] = []): SchedulerCache {
  const c = new SchedulerCache();
  for (const [name, f] of Object.entries(nodes)) c.upsertNode(testNode(name, f));
  for (const p of pods) c.upsertPod(p);
  c.setNamespace('default', {});
  return c;
}

let seed = 1;
const random = (): number => {
  seed = (seed * 48271) % 2147483647;
  return seed / 2147483647;
};

function schedule(c: SchedulerCache, pod: Pod): ScheduleOutcome & { message: string } {
  const ctx = newCycle(pod, c.infoOf(pod), c);
  const out = scheduleOne(ctx, 0, {
    filters: defaultFilters,
    scores: defaultScores,
    percentageOfNodesToScore: 0,
    random,
  });
  return { ...out, message: out.node ? '' : failureMessage(c.nodes.length, out.failures) };
}

/** Schedules `pod` and counts it on its node, as the scheduler's assume does. */
function place(c: SchedulerCache, pod: Pod): string {
  const out = schedule(c, pod);
  assert.ok(out.node, `expected ${pod.metadata?.name} to fit: ${out.message}`);
  c.assume(c.infoOf(pod), out.node.name);
  return out.node.name;
}

describe('pod requests', () => {
  it('take the larger of the containers and the init peak, plus sidecars and overhead', () => {
    const pod = testPod('p', {
      spec: {
        containers: [
          { name: 'a', image: 'x', resources: { requests: { cpu: '100m', memory: '64Mi' } } },
          { name: 'b', image: 'x', resources: { requests: { cpu: '200m' } } },
        ],
        initContainers: [
          { name: 'sidecar', image: 'x', restartPolicy: 'Always', resources: { requests: { cpu: '50m' } } },
          { name: 'migrate', image: 'x', resources: { requests: { cpu: '1', memory: '32Mi' } } },
        ],
        overhead: { cpu: '250m', memory: '160Mi' },
      },
    });
    const r = podRequests(pod);
    // init peak: sidecar 50m + migrate 1000m = 1050m > 300m + 50m; plus 250m overhead.
    assert.equal(r.get('cpu'), 1300);
    assert.equal(r.get('memory'), (64 + 160) * 1024 * 1024);
  });
});

describe('filters', () => {
  it("name upstream's reasons in upstream's message", () => {
    const c = cluster({
      small: { memory: '1Gi' },
      tainted1: { taints: [{ key: 'dedicated', value: 'sip', effect: 'NoSchedule' }] },
      tainted2: { taints: [{ key: 'dedicated', value: 'sip', effect: 'NoSchedule' }] },
    });
    const out = schedule(c, testPod('big', { memory: '2Gi' }));
    assert.equal(out.node, undefined);
    assert.equal(
      out.message,
      '0/3 nodes are available: 1 Insufficient memory, 2 node(s) had untolerated taint {dedicated: sip}.',
    );
  });

  it('honour tolerations, nodeSelector, required node affinity and unschedulable nodes', () => {
    const c = cluster({
      a: { labels: { zone: 'z1' }, taints: [{ key: 'dedicated', value: 'sip', effect: 'NoSchedule' }] },
      b: { labels: { zone: 'z2' } },
      c: { labels: { zone: 'z1' }, unschedulable: true },
    });
    const tolerating = testPod('t', {
      spec: {
        nodeSelector: { zone: 'z1' },
        tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'sip', effect: 'NoSchedule' }],
      },
    });
    assert.equal(schedule(c, tolerating).node?.name, 'a');
    const affinity = testPod('aff', {
      spec: {
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['z1'] }] }],
            },
          },
        },
      },
    });
    assert.equal(schedule(c, affinity).node?.name, 'b');
    const nowhere = testPod('none', { spec: { nodeSelector: { zone: 'z9' } } });
    assert.equal(
      schedule(c, nowhere).message,
      "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had untolerated taint {dedicated: sip}, 1 node(s) were unschedulable.",
    );
    const c2 = cluster({ c: { unschedulable: true } });
    assert.equal(
      schedule(c2, testPod('x')).message,
      '0/1 nodes are available: 1 node(s) were unschedulable.',
    );
  });

  it('keep pods off nodes that are not Ready, unless they tolerate it', () => {
    const c = cluster({ down: { ready: 'Unknown' }, notready: { ready: 'False' } });
    assert.equal(
      schedule(c, testPod('x')).message,
      '0/2 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }.',
    );
    const ds = testPod('ds', {
      spec: { tolerations: [{ operator: 'Exists' }] },
    });
    assert.ok(schedule(c, ds).node);
  });

  it('count pods, cpu and host ports already placed', () => {
    const c = cluster({ n: { cpu: '1', pods: '3' } });
    place(c, testPod('a', { cpu: '600m' }));
    assert.equal(
      schedule(c, testPod('b', { cpu: '500m' })).message,
      '0/1 nodes are available: 1 Insufficient cpu.',
    );
    place(c, testPod('c', { hostPort: 8080 }));
    assert.equal(
      schedule(c, testPod('d', { hostPort: 8080 })).message,
      "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports.",
    );
    place(c, testPod('e'));
    assert.equal(schedule(c, testPod('f')).message, '0/1 nodes are available: 1 Too many pods.');
    // A finished pod frees its share.
    c.upsertPod({ ...testPod('a', { cpu: '600m', nodeName: 'n' }), status: { phase: 'Succeeded' } } as Pod);
    assert.ok(schedule(c, testPod('g', { cpu: '500m' })).node);
  });

  it('send privileged pods to nodes with runc, and refuse an unknown RuntimeClass', () => {
    const c = cluster({ vmonly: { handlers: ['hyper'] }, both: { handlers: ['hyper', 'runc'] } });
    const privileged = testPod('p', {
      spec: { containers: [{ name: 'c', image: 'x', securityContext: { privileged: true } }] },
    });
    assert.equal(schedule(c, privileged).node?.name, 'both');
    const missing = testPod('m', { spec: { runtimeClassName: 'gvisor' } });
    assert.equal(schedule(c, missing).message, '0/2 nodes are available: 2 RuntimeClass "gvisor" not found.');
    c.setRuntimeClass('fast', { metadata: { name: 'fast' }, handler: 'runc' } as never);
    assert.equal(schedule(c, testPod('r', { spec: { runtimeClassName: 'fast' } })).node?.name, 'both');
  });

  it('apply required pod anti-affinity both ways and pod affinity by topology', () => {
    const c = cluster({
      n1: { labels: { zone: 'a' } },
      n2: { labels: { zone: 'a' } },
      n3: { labels: { zone: 'b' } },
    });
    const anti = (name: string): Pod =>
      testPod(name, {
        labels: { app: 'sip' },
        spec: {
          affinity: {
            podAntiAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: [
                { labelSelector: { matchLabels: { app: 'sip' } }, topologyKey: 'kubernetes.io/hostname' },
              ],
            },
          },
        },
      });
    const nodes = new Set([place(c, anti('s1')), place(c, anti('s2')), place(c, anti('s3'))]);
    assert.equal(nodes.size, 3);
    assert.equal(
      schedule(c, anti('s4')).message,
      "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules.",
    );
    // A plain pod labelled app=sip is refused by the existing pods' anti-affinity.
    assert.equal(
      schedule(c, testPod('plain', { labels: { app: 'sip' } })).message,
      "0/3 nodes are available: 3 node(s) didn't satisfy existing pods anti-affinity rules.",
    );
    const c2 = cluster({
      n1: { labels: { zone: 'a' } },
      n2: { labels: { zone: 'a' } },
      n3: { labels: { zone: 'b' } },
    });
    c2.assume(c2.infoOf(testPod('db', { labels: { app: 'db' } })), 'n3');
    const near = testPod('web', {
      spec: {
        affinity: {
          podAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: [
              { labelSelector: { matchLabels: { app: 'db' } }, topologyKey: 'zone' },
            ],
          },
        },
      },
    });
    assert.equal(schedule(c2, near).node?.name, 'n3');
  });

  it('spread by topology constraints with maxSkew', () => {
    const c = cluster({ a1: { labels: { zone: 'a' } }, b1: { labels: { zone: 'b' } }, nolabel: {} });
    const spread = (name: string): Pod =>
      testPod(name, {
        labels: { app: 'rtp' },
        spec: {
          topologySpreadConstraints: [
            {
              maxSkew: 1,
              topologyKey: 'zone',
              whenUnsatisfiable: 'DoNotSchedule',
              labelSelector: { matchLabels: { app: 'rtp' } },
            },
          ],
        },
      });
    const zones = ['a', 'b', 'a', 'b'].length;
    const placed = [
      place(c, spread('r1')),
      place(c, spread('r2')),
      place(c, spread('r3')),
      place(c, spread('r4')),
    ];
    assert.equal(placed.length, zones);
    assert.equal(placed.filter((n) => n === 'a1').length, 2);
    assert.equal(placed.filter((n) => n === 'b1').length, 2);
    assert.ok(!placed.includes('nolabel'));
  });
});

describe('scores', () => {
  it('spread the pods of one controller over the nodes', () => {
    const c = cluster({ n1: {}, n2: {}, n3: {} });
    const counts = new Map<string, number>();
    for (let i = 0; i < 9; i++) {
      const n = place(c, testPod(`r${i}`, { ownerUid: 'rs-1', cpu: '100m', memory: '100Mi' }));
      counts.set(n, (counts.get(n) ?? 0) + 1);
    }
    assert.deepEqual([...counts.values()].sort(), [3, 3, 3]);
  });

  it('prefer the least allocated node and the one holding the image', () => {
    const c = cluster({ busy: {}, idle: {} });
    c.assume(c.infoOf(testPod('hog', { cpu: '3', memory: '6Gi' })), 'busy');
    assert.equal(schedule(c, testPod('x', { cpu: '100m' })).node?.name, 'idle');
    const c2 = cluster({
      cold: {},
      warm: { images: [{ names: ['docker.io/library/kamailio:5.6'], sizeBytes: 300 * 1024 * 1024 }] },
    });
    assert.equal(schedule(c2, testPod('sip', { image: 'kamailio:5.6' })).node?.name, 'warm');
  });

  it('avoid PreferNoSchedule taints and follow preferred node affinity', () => {
    const c = cluster({ soft: { taints: [{ key: 'spot', effect: 'PreferNoSchedule' }] }, plain: {} });
    assert.equal(schedule(c, testPod('x')).node?.name, 'plain');
    const c2 = cluster({ ssd: { labels: { disk: 'ssd' } }, hdd: { labels: { disk: 'hdd' } } });
    const pod = testPod('p', {
      spec: {
        affinity: {
          nodeAffinity: {
            preferredDuringSchedulingIgnoredDuringExecution: [
              {
                weight: 50,
                preference: { matchExpressions: [{ key: 'disk', operator: 'In', values: ['ssd'] }] },
              },
            ],
          },
        },
      },
    });
    assert.equal(schedule(c2, pod).node?.name, 'ssd');
  });
});

describe('preemption', () => {
  it('evicts the fewest, least important pods of lower priority', () => {
    const c = cluster({ n1: { cpu: '2' }, n2: { cpu: '2' } });
    c.assume(c.infoOf(testPod('batch1', { cpu: '1', priority: 10 })), 'n1');
    c.assume(c.infoOf(testPod('batch2', { cpu: '1', priority: 10 })), 'n1');
    c.assume(c.infoOf(testPod('web', { cpu: '1', priority: 100 })), 'n2');
    c.assume(c.infoOf(testPod('low', { cpu: '1', priority: 5 })), 'n2');
    const sip = testPod('sip', { cpu: '1500m', priority: 1000 });
    const ctx = newCycle(sip, c.infoOf(sip), c);
    const out = scheduleOne(ctx, 0, {
      filters: defaultFilters,
      scores: defaultScores,
      percentageOfNodesToScore: 0,
      random,
    });
    assert.equal(out.node, undefined);
    const p = findPreemption(ctx, out.failures, defaultFilters);
    // n1 needs both batch pods gone (max victim priority 10); n2 needs web and low (max 100).
    assert.equal(p.candidate?.node.name, 'n1');
    assert.deepEqual(p.candidate?.victims.map((v) => v.key).sort(), ['default/batch1', 'default/batch2']);
  });

  it('says why it cannot help', () => {
    const c = cluster({
      n1: { cpu: '1' },
      n2: { cpu: '1', taints: [{ key: 'k', value: 'v', effect: 'NoSchedule' }] },
    });
    c.assume(c.infoOf(testPod('same', { cpu: '1', priority: 1000 })), 'n1');
    const pod = testPod('p', { cpu: '1', priority: 1000 });
    const ctx = newCycle(pod, c.infoOf(pod), c);
    const out = scheduleOne(ctx, 0, {
      filters: defaultFilters,
      scores: defaultScores,
      percentageOfNodesToScore: 0,
      random,
    });
    assert.equal(
      findPreemption(ctx, out.failures, defaultFilters).message,
      '0/2 nodes are available: 1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling.',
    );
    const never = testPod('n', { cpu: '1', priority: 1000, spec: { preemptionPolicy: 'Never' } });
    const ctx2 = newCycle(never, c.infoOf(never), c);
    assert.equal(
      findPreemption(ctx2, out.failures, defaultFilters).message,
      'not eligible due to preemptionPolicy=Never.',
    );
  });

  it('holds the room of a nominated pod against pods of lower priority', () => {
    const c = cluster({ n1: { cpu: '1' } });
    const sip = testPod('sip', { cpu: '1', priority: 1000 });
    c.nominate('default/sip', 'n1', c.infoOf(sip));
    assert.equal(
      schedule(c, testPod('low', { cpu: '500m', priority: 0 })).message,
      '0/1 nodes are available: 1 Insufficient cpu.',
    );
    assert.ok(schedule(c, sip).node);
  });
});

describe('feasibleNodesToFind', () => {
  it("follows upstream's adaptive percentage", () => {
    assert.equal(feasibleNodesToFind(50, 0), 50);
    assert.equal(feasibleNodesToFind(500, 0), 230);
    assert.equal(feasibleNodesToFind(5000, 0), 500);
    assert.equal(feasibleNodesToFind(200, 0), 100);
  });
});
