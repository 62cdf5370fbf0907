/**
 * The Priority admission plugin through the API server: a pod's priority from its
 * PriorityClass, the global default, the built-in system classes, and refusals as upstream
 * answers them; with and without a write worker preparing the creates.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../../lib/index.js';
import { startInProcessServer, type InProcessServer } from '../testing/in-process-server.js';

const pods = '/api/v1/namespaces/default/pods';
const classes = '/apis/scheduling.k8s.io/v1/priorityclasses';

function pod(name: string, spec: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: { containers: [{ name: 'c', image: 'busybox' }], ...spec },
  };
}

function priorityClass(
  name: string,
  value: number,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return { apiVersion: 'scheduling.k8s.io/v1', kind: 'PriorityClass', metadata: { name }, value, ...extra };
}

interface PodSpec {
  priority?: number;
  priorityClassName?: string;
  preemptionPolicy?: string;
}
const specOf = (json: Record<string, unknown>): PodSpec => json['spec'] as PodSpec;

for (const writeWorkers of [0, 1]) {
  describe(`Priority admission (${writeWorkers} write workers)`, () => {
    let srv: InProcessServer;
    before(async () => {
      srv = await startInProcessServer({ writeWorkers });
    });
    after(async () => {
      await srv.close();
    });

    it('gives a pod without a class priority 0', async () => {
      const r = await srv.request('POST', pods, { body: pod('plain') });
      assert.equal(r.status, 201, r.text);
      assert.equal(specOf(r.json).priority, 0);
      assert.equal(specOf(r.json).preemptionPolicy, 'PreemptLowerPriority');
    });

    it("gives a pod its PriorityClass's value and preemption policy", async () => {
      const c = await srv.request('POST', classes, {
        body: priorityClass('batch', 1000, { preemptionPolicy: 'Never' }),
      });
      assert.equal(c.status, 201, c.text);
      const r = await srv.request('POST', pods, { body: pod('batch-1', { priorityClassName: 'batch' }) });
      assert.equal(r.status, 201, r.text);
      assert.deepEqual(specOf(r.json).priority, 1000);
      assert.equal(specOf(r.json).preemptionPolicy, 'Never');
      // A matching priority is fine; a disagreeing one is refused.
      const same = await srv.request('POST', pods, {
        body: pod('batch-2', { priorityClassName: 'batch', priority: 1000 }),
      });
      assert.equal(same.status, 201, same.text);
      const other = await srv.request('POST', pods, {
        body: pod('batch-3', { priorityClassName: 'batch', priority: 5 }),
      });
      assert.equal(other.status, 403, other.text);
      assert.match(
        String(other.json['message']),
        /^pods "batch-3" is forbidden: the integer value of priority \(5\) must not be provided in pod spec; priority admission controller computed 1000 from the given PriorityClass name$/,
      );
      const policy = await srv.request('POST', pods, {
        body: pod('batch-4', { priorityClassName: 'batch', preemptionPolicy: 'PreemptLowerPriority' }),
      });
      assert.equal(policy.status, 403, policy.text);
      assert.match(String(policy.json['message']), /the string value of PreemptionPolicy/);
      const noClass = await srv.request('POST', pods, { body: pod('high', { priority: 7 }) });
      assert.equal(noClass.status, 403, 'a priority without a class disagrees with 0');
    });

    it('refuses a pod naming a missing class with 403 as upstream', async () => {
      const r = await srv.request('POST', pods, { body: pod('lost', { priorityClassName: 'nope' }) });
      assert.equal(r.status, 403, r.text);
      assert.equal(r.json['reason'], 'Forbidden');
      assert.equal(r.json['message'], 'pods "lost" is forbidden: no PriorityClass with name nope was found');
    });

    it('knows the system classes before bootstrap created them', async () => {
      const node = await srv.request('POST', pods, {
        body: pod('node-critical', { priorityClassName: 'system-node-critical' }),
      });
      assert.equal(node.status, 201, node.text);
      assert.equal(specOf(node.json).priority, 2000001000);
      const cluster = await srv.request('POST', pods, {
        body: pod('cluster-critical', { priorityClassName: 'system-cluster-critical' }),
      });
      assert.equal(specOf(cluster.json).priority, 2000000000);
    });

    it('applies the global default to pods without a class, and allows one default only', async () => {
      const d = await srv.request('POST', classes, {
        body: priorityClass('default-prio', 50, { globalDefault: true }),
      });
      assert.equal(d.status, 201, d.text);
      const second = await srv.request('POST', classes, {
        body: priorityClass('another-default', 60, { globalDefault: true }),
      });
      assert.equal(second.status, 403, second.text);
      assert.match(String(second.json['message']), /PriorityClass default-prio is already marked as default/);
      // The default is cached for up to a second: ask until it shows.
      let n = 0;
      const spec = await waitFor(
        async () => {
          const r = await srv.request('POST', pods, { body: pod(`defaulted-${n++}`) });
          assert.equal(r.status, 201, r.text);
          return specOf(r.json).priority === 50 ? specOf(r.json) : undefined;
        },
        { timeoutMs: 5000, intervalMs: 100, description: 'a pod with the default priority' },
      );
      assert.equal(spec.priority, 50);
      assert.equal(spec.priorityClassName, 'default-prio');
      // Updates keep the priority the create resolved.
      const name = 'defaulted-upd';
      const created = await srv.request('POST', pods, { body: pod(name) });
      const put = await srv.request('PUT', `${pods}/${name}`, {
        body: {
          ...created.json,
          metadata: { ...(created.json['metadata'] as object), labels: { x: 'y' } },
          spec: { ...(created.json['spec'] as object), priority: undefined, preemptionPolicy: undefined },
        },
      });
      assert.equal(put.status, 200, put.text);
      assert.equal(specOf(put.json).priority, 50);
      assert.equal((await srv.request('DELETE', `${classes}/default-prio`)).status, 200);
    });
  });
}
