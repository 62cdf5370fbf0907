/**
 * The one-node cluster end to end: a real `h8s server` with everything enabled (API server,
 * controllers, scheduler, and its supervised `h8s runtime` and `h8s agent` children), busybox
 * from a loopback registry, and the real kubectl (1.33 and Debian's 1.20). The node registers
 * and turns Ready; `kubectl run` starts a runc pod and `kubectl apply` a HyperContainer VM pod,
 * both scheduled by the scheduler and run by the agent; deleting them leaves nothing behind.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { startTestServer, type TestServer } from '../../src/client/testing/test-server.js';
import { pushBusybox } from '../../src/images/testing/image-builder.js';
import { startTestRegistry, type TestRegistry } from '../../src/images/testing/test-registry.js';
import { waitFor } from '../../src/lib/index.js';
import { RuntimeClient } from '../../src/runtime/index.js';
import { unmountAll } from '../../src/runtime/host-mounts.js';
import { detectCgroupVersion, removeCgroupTree } from '../../src/runtime/runc/cgroups.js';
import {
  kubectlBinaries,
  kubectlCacheDir,
  kubectlFor,
  type Kubectl,
  type ServerProcess,
} from './helpers/api-server.js';
import { killProcessesUnder } from '../../src/runtime/testing/processes.js';

const nodeName = 'e2e-node';

interface Condition {
  readonly type: string;
  readonly status: string;
}
/** The fields of `kubectl get -o json` this test reads. */
interface ObjectJson {
  readonly metadata: { readonly labels?: Record<string, string> };
  readonly spec?: { readonly nodeName?: string };
  readonly status?: {
    readonly phase?: string;
    readonly startTime?: string;
    readonly conditions?: readonly Condition[];
    readonly capacity?: Record<string, string>;
    readonly containerStatuses?: readonly { readonly containerID?: string }[];
  };
}
const cgroupParent = `/h8s-e2e-${randomBytes(4).toString('hex')}`;

describe('a one-node cluster from h8s server', { timeout: 900_000 }, () => {
  let registry: TestRegistry;
  let server: TestServer;
  let image = '';
  let kubectls: Kubectl[] = [];

  before(async () => {
    registry = await startTestRegistry();
    image = (await pushBusybox(registry.host)).ref;
    server = await startTestServer({
      disable: '',
      extraArgs: ['--node-name', nodeName],
      env: {
        H8S_RUNTIME_POOL_SIZE: '0',
        H8S_RUNTIME_CGROUP_PARENT: cgroupParent,
        H8S_RUNTIME_LOG_FORMAT: 'text',
        H8S_AGENT_LOG_FORMAT: 'text',
      },
      outputBytes: 262_144,
    });
    // kubectlFor needs only the kubeconfig of a ServerProcess.
    const proc = { kubeconfigPath: server.kubeconfigPath } as ServerProcess;
    kubectls = await Promise.all(
      (await kubectlBinaries(['1.33', '1.20'])).map(async (b) =>
        kubectlFor(b, proc, await kubectlCacheDir(`cluster-${b.version}`)),
      ),
    );
  });

  after(async () => {
    if (process.exitCode) console.error(server?.output().slice(-20_000));
    if (server) {
      // Pods outlive their runtime daemon by design; remove them while it still serves.
      const rt = new RuntimeClient({ endpoint: `unix://${join(server.dataDir, 'runtime.sock')}` });
      for (const s of await rt.listPodSandbox().catch(() => [])) {
        await rt.removePodSandbox(s.id).catch((err: unknown) => console.error(`cleanup: ${String(err)}`));
      }
      rt.close();
      await server.stop();
      await killProcessesUnder(server.dataDir);
      await unmountAll(server.dataDir).catch((err: unknown) => console.error(`unmount: ${String(err)}`));
      await removeCgroupTree(cgroupParent, await detectCgroupVersion());
      await server.cleanup();
    }
    await registry?.stop();
  });

  const podJson = async (k: Kubectl, name: string): Promise<ObjectJson> =>
    JSON.parse(await k.ok(['get', 'pod', name, '-o', 'json'])) as ObjectJson;

  /**
   * The ServiceAccount admission plugin gave the pod its token volume, and the agent wrote it:
   * a token bound to the pod (TokenRequest) that authenticates as `default/default`, the CA and
   * the namespace.
   */
  const checkServiceAccountVolume = async (k: Kubectl, name: string): Promise<void> => {
    const pod = JSON.parse(await k.ok(['get', 'pod', name, '-o', 'json'])) as {
      metadata: { uid: string };
      spec: { volumes?: { name: string }[] };
    };
    const volume = pod.spec.volumes?.find((v) => v.name.startsWith('kube-api-access-'));
    assert.ok(volume, 'the pod has the service-account token volume');
    const dir = join(server.dataDir, 'agent', 'pods', pod.metadata.uid, 'volumes', 'projected', volume.name);
    assert.equal(await readFile(join(dir, 'namespace'), 'utf8'), 'default');
    assert.equal(await readFile(join(dir, 'ca.crt'), 'utf8'), server.credentials.caPem);
    const token = await readFile(join(dir, 'token'), 'utf8');
    const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
      sub: string;
      'kubernetes.io': { pod: { name: string; uid: string } };
    };
    assert.equal(claims.sub, 'system:serviceaccount:default:default');
    assert.deepEqual(claims['kubernetes.io'].pod, { name, uid: pod.metadata.uid });
    await k.ok(['get', 'pod', name, '--token', token]);
  };

  const waitRunning = async (k: Kubectl, name: string): Promise<ObjectJson> => {
    let last: ObjectJson = { metadata: {} };
    await waitFor(
      async () => {
        last = await podJson(k, name);
        const ready = (last.status?.conditions ?? []).find((c) => c.type === 'Ready');
        return last.status?.phase === 'Running' && ready?.status === 'True';
      },
      { timeoutMs: 240_000, intervalMs: 500, description: `pod ${name} to run` },
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}; last status: ${JSON.stringify(last.status ?? {})}`);
    });
    return last;
  };

  const deleteAndWait = async (k: Kubectl, name: string): Promise<void> => {
    await k.ok(['delete', 'pod', name, '--wait=true', '--timeout=120s']);
    const r = await k.run(['get', 'pod', name]);
    assert.notEqual(r.exitCode, 0, `pod ${name} still exists: ${r.stdout}`);
    assert.match(r.stderr, /NotFound|not found/);
  };

  it('registers the node, which turns Ready with capacity, labels and a lease', async () => {
    const k = kubectls[0]!;
    let node: ObjectJson = { metadata: {} };
    await waitFor(
      async () => {
        const r = await k.run(['get', 'node', nodeName, '-o', 'json']);
        if (r.exitCode !== 0) return false;
        node = JSON.parse(r.stdout) as ObjectJson;
        const ready = (node.status?.conditions ?? []).find((c) => c.type === 'Ready');
        return ready?.status === 'True';
      },
      { timeoutMs: 120_000, intervalMs: 500, description: 'the node to be Ready' },
    );
    assert.equal(node.metadata.labels?.['kubernetes.io/hostname'], nodeName);
    assert.match(String(node.metadata.labels?.['h8s.io/accel']), /^(kvm|tcg)$/);
    assert.ok(Number(node.status?.capacity?.['pods']) > 0);
    const table = await k.ok(['get', 'nodes']);
    assert.match(table, new RegExp(`^${nodeName}\\s+Ready\\s`, 'm'));
    const lease = JSON.parse(
      await k.ok(['get', 'lease', '-n', 'kube-node-lease', nodeName, '-o', 'json']),
    ) as {
      spec: { holderIdentity: string };
    };
    assert.equal(lease.spec.holderIdentity, nodeName);
    const rcs = await k.ok(['get', 'runtimeclass', '-o', 'name']);
    assert.match(rcs, /runtimeclass.node.k8s.io\/hyper/);
    assert.match(rcs, /runtimeclass.node.k8s.io\/runc/);
  });

  for (const version of ['1.33', '1.20']) {
    it(`runs a runc pod from kubectl run (${version}), reports its status, and deletes it`, async () => {
      const k = kubectls.find((x) => x.version === version)!;
      const name = `sleeper-${version.replace('.', '-')}`;
      // `get -w` shows the pod's transitions as kubectl users watch them.
      // (`get pods -w`, not `get pod NAME -w`: the pod does not exist yet.)
      const watch = spawn(k.argv[0]!, [...k.argv.slice(1), 'get', 'pods', '-w', '--no-headers'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let watched = '';
      watch.stdout.setEncoding('utf8').on('data', (d: string) => (watched += d));
      const seen = (state: string): boolean =>
        watched.split('\n').some((l) => l.startsWith(`${name} `) && l.includes(` ${state} `));
      try {
        await k.ok([
          'run',
          name,
          `--image=${image}`,
          '--restart=Never',
          '--overrides={"apiVersion":"v1","spec":{"runtimeClassName":"runc"}}',
          '--command',
          '--',
          'sleep',
          '3600',
        ]);
        const pod = await waitRunning(k, name);
        assert.equal(pod.spec?.nodeName, nodeName);
        assert.match(String(pod.status?.containerStatuses?.[0]?.containerID), /^runc:\/\//);
        assert.ok(pod.status?.startTime);
        await checkServiceAccountVolume(k, name);
        await waitFor(async () => seen('Running'), {
          timeoutMs: 30_000,
          description: 'kubectl get -w to show Running',
        });
      } finally {
        watch.kill();
      }
      assert.ok(seen('Pending') || seen('ContainerCreating'), watched);
      await deleteAndWait(k, name);
    });

    it(`runs a HyperContainer VM pod from kubectl apply (${version})`, async () => {
      const k = kubectls.find((x) => x.version === version)!;
      const name = `vm-${version.replace('.', '-')}`;
      const manifest = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, labels: { app: 'vm' } },
        spec: {
          terminationGracePeriodSeconds: 5,
          containers: [
            {
              name: 'main',
              image,
              command: ['sh', '-c', 'echo started; exec sleep 3600'],
              resources: { limits: { memory: '128Mi', cpu: '500m' } },
            },
          ],
        },
      };
      await k.ok(['apply', '-f', '-'], { input: JSON.stringify(manifest) });
      const pod = await waitRunning(k, name);
      assert.match(String(pod.status?.containerStatuses?.[0]?.containerID), /^hyper:\/\//);
      const events = await k.ok(['get', 'events', '--field-selector', `involvedObject.name=${name}`]);
      assert.match(events, /Scheduled/);
      assert.match(events, /Started/);
      await deleteAndWait(k, name);
    });
  }

  it('refuses a pod that asks for hostNetwork on the hyper runtime, with an event', async () => {
    const k = kubectls[0]!;
    const manifest = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'host-on-hyper' },
      spec: {
        runtimeClassName: 'hyper',
        hostNetwork: true,
        containers: [{ name: 'c', image, command: ['sleep', '3600'] }],
      },
    };
    await k.ok(['apply', '-f', '-'], { input: JSON.stringify(manifest) });
    await waitFor(
      async () =>
        /hostNetwork|host access|host namespaces/i.test(
          await k.ok(['get', 'events', '--field-selector', 'involvedObject.name=host-on-hyper']),
        ),
      { timeoutMs: 60_000, intervalMs: 500, description: 'an event refusing hostNetwork on hyper' },
    );
    const pod = await podJson(k, 'host-on-hyper');
    assert.notEqual(pod.status?.phase, 'Running');
    await deleteAndWait(k, 'host-on-hyper');
  });
});
