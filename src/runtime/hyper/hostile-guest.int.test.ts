/**
 * Hostile workloads inside a VM pod, driven through the runtime API as a user would (the real
 * daemon core, a real busybox image from a loopback registry, real QEMU VMs): a fork bomb and
 * a memory hog stay inside their container; the guest agent (PID 1 of the VM) survives them,
 * the pod stays ready and exec keeps working. One pod is shared by the tests, in order.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { bestEffort, createMemoryLogger, waitFor } from '../../lib/index.js';
import type { ContainerConfig, ContainerStatus } from '../runtime-service.js';
import { repoRoot, startTestRuntime, type TestRuntime } from '../testing/test-runtime.js';
import { defaultGuestDir, findGuestAssets } from './guest-assets.js';
import { createHyperHandler, type HyperHandler } from './hyper-handler.js';

const startTimeoutMs = 180_000;

describe('hostile workloads in a VM pod', { timeout: 900_000 }, () => {
  let root: string;
  let hyper: HyperHandler;
  let d: TestRuntime;
  let pod: string;
  let sleeper: string;
  let n = 0;
  const memLog = createMemoryLogger('debug');

  const containerConfig = (extra: Partial<ContainerConfig>): ContainerConfig => ({
    metadata: { name: `c${++n}`, attempt: 0 },
    image: d.busyboxRef,
    ...extra,
  });
  const run = async (extra: Partial<ContainerConfig>): Promise<string> => {
    const id = await d.client.createContainer(pod, containerConfig(extra));
    await d.client.startContainer(id);
    return id;
  };
  const exec = async (id: string, cmd: string[]): Promise<{ out: string; err: string; code: number }> => {
    const r = await d.client.execSync(id, cmd, 120);
    return { out: Buffer.from(r.stdout).toString(), err: Buffer.from(r.stderr).toString(), code: r.exitCode };
  };
  /** Processes in the pod's PID namespace, counted by a shell that does not fork (glob, builtins). */
  const processes = async (id: string): Promise<number> => {
    const r = await exec(id, ['sh', '-c', 'set -- /proc/[0-9]*; echo $#']);
    assert.equal(r.code, 0, `count processes: exit ${r.code} ${r.err}`);
    return Number(r.out.trim());
  };
  /** Processes in the pod's PID namespace per cgroup (the line of /proc/PID/cgroup), read by builtins. */
  const processesByCgroup = async (id: string): Promise<Map<string, number>> => {
    const r = await exec(id, [
      'sh',
      '-c',
      'for p in /proc/[0-9]*; do read -r l < "$p/cgroup" 2>/dev/null && echo "$l"; done',
    ]);
    assert.equal(r.code, 0, `count processes by cgroup: exit ${r.code} ${r.err}`);
    const groups = new Map<string, number>();
    for (const line of r.out.split('\n').filter(Boolean)) groups.set(line, (groups.get(line) ?? 0) + 1);
    return groups;
  };
  const exited = (id: string): Promise<ContainerStatus> =>
    waitFor(
      async () => {
        const s = await d.client.containerStatus(id);
        return s.state === 'CONTAINER_EXITED' ? s : undefined;
      },
      { timeoutMs: startTimeoutMs, description: `container ${id} to exit` },
    );
  /** The pod is still the same ready VM and its first container still runs and answers. */
  const assertPodAlive = async (what: string): Promise<void> => {
    const st = await d.client.podSandboxStatus(pod);
    assert.equal(st.state, 'SANDBOX_READY', `${what}: pod state ${st.state}\n${await consoleTail()}`);
    assert.equal((await d.client.containerStatus(sleeper)).state, 'CONTAINER_RUNNING', what);
    const r = await exec(sleeper, ['echo', `alive-after-${what}`]);
    assert.equal(r.code, 0, `${what}: exec exit ${r.code} ${r.err}`);
    assert.equal(r.out, `alive-after-${what}\n`);
  };
  /** The guest console of every VM of this test (shown when an assertion fails). */
  const consoleTail = async (): Promise<string> => {
    const vms = join(root, 'vms');
    let text = '';
    for (const vm of await readdir(vms).catch(() => [] as string[])) {
      const c = await readFile(join(vms, vm, 'console.log'), 'latin1').catch(() => '');
      text += `--- console of VM ${vm} ---\n${c.slice(-4000)}\n`;
    }
    return text;
  };

  before(async () => {
    const guest = await findGuestAssets(defaultGuestDir(repoRoot));
    // Short path: the VMs' unix sockets live under it.
    root = await mkdtemp('/tmp/h8s-hostile-');
    hyper = createHyperHandler({
      root,
      log: memLog.log,
      kernel: guest.kernel,
      initrd: guest.initrd,
      kernelVersion: guest.kernelVersion,
      guestBuildId: guest.buildHash,
      poolSize: 0,
      vmTemplates: false,
    });
    d = await startTestRuntime({ handlers: ['hyper'], extraHandlers: [hyper] });
    pod = await d.client.runPodSandbox(
      { metadata: { name: 'hostile', uid: 'hostile-uid', namespace: 'hostile', attempt: 0 } },
      'hyper',
    );
    sleeper = await run({ command: ['sleep', '100000'] });
  });

  after(async () => {
    // A pod that did not survive: the guest console says why (a panic, the agent's last words).
    const st = await bestEffort(memLog.log, 'read the pod status', d?.client.podSandboxStatus(pod));
    if (st?.state !== 'SANDBOX_READY') console.error(`pod state ${st?.state}\n${await consoleTail()}`);
    await bestEffort(memLog.log, 'stop the test runtime', d?.stop());
    await bestEffort(memLog.log, 'shut the VM pool down', hyper?.shutdownPool());
    await bestEffort(memLog.log, 'close the hyper handler', hyper?.close());
    await rm(root, { recursive: true, force: true });
  });

  test('a fork bomb run by exec stays in its container: the pod keeps running and exec still works', async () => {
    // The demo's bomb: the exec's shell returns at once, its descendants keep forking.
    const bomb = await exec(sleeper, ['sh', '-c', 'f(){ f|f& }; f']);
    assert.equal(bomb.code, 0, bomb.err);
    // The bomb is running: the pod holds far more processes than the sleeper and pod init.
    await waitFor(async () => (await processes(sleeper)) > 100, {
      timeoutMs: 60_000,
      description: 'the fork bomb to fill its container',
    });
    await assertPodAlive('the bomb');
    // A second container of the pod is unaffected by the first one's limit.
    const other = await run({ command: ['sh', '-c', 'echo other-ran'] });
    assert.equal((await exited(other)).exitCode, 0);
    // Killing the container kills the bomb (its cgroup): the pod's PID namespace empties.
    await d.client.stopContainer(sleeper, 0);
    const st = await exited(sleeper);
    assert.notEqual(st.exitCode, 0);
    assert.equal((await d.client.podSandboxStatus(pod)).state, 'SANDBOX_READY');
    sleeper = await run({ command: ['sleep', '100000'] });
    // pod init, the new sleeper, the counting shell (and stragglers being reaped, bounded)
    await waitFor(async () => (await processes(sleeper)) <= 4, {
      timeoutMs: 60_000,
      description: "the bomb's processes to be gone",
    });
    await assertPodAlive('the bomb was killed');
  });

  test("a fork bomb never holds more processes than its container's pids limit", async () => {
    const limit = 40;
    const bomb = await run({
      command: ['sh', '-c', 'f(){ f|f& }; f; exec sleep 100000'],
      resources: { pidsLimit: limit },
    });
    await waitFor(async () => (await processes(sleeper)) >= limit / 2, {
      timeoutMs: 60_000,
      description: 'the fork bomb to fill its container',
    });
    // The limit is per container (its cgroup): count the pod's processes by cgroup, with shell
    // builtins only (a fork would be refused or counted). Processes of other containers, pod
    // init and the exec doing the counting (before it has joined its container) are elsewhere.
    for (let i = 0; i < 5; i++) {
      const byGroup = await processesByCgroup(sleeper);
      const [group, count] = [...byGroup].sort((a, b) => b[1] - a[1])[0] ?? ['', 0];
      assert.ok(count <= limit, `${count} processes in cgroup ${group}, pids limit ${limit}`);
    }
    await assertPodAlive('the limited bomb');
    await d.client.stopContainer(bomb, 0);
    await exited(bomb);
  });

  test('a memory hog without a memory limit is OOM-killed inside its container and the agent survives', async () => {
    // tail keeps the last lines of an input that has no newline: one line that grows by
    // small reallocations until it is more than the whole VM (128 MiB). (One huge malloc
    // would not do: the guest kernel refuses it up front and the program exits with ENOMEM.)
    const hog = await run({ command: ['tail', '/dev/zero'] });
    const st = await exited(hog);
    assert.equal(
      st.reason,
      'OOMKilled',
      `exit ${st.exitCode} ${st.reason} ${st.message}\n${await consoleTail()}`,
    );
    await assertPodAlive('the memory hog');
  });
});
