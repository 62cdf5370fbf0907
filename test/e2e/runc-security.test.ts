/**
 * Isolation of runc pods, end to end through the real daemon (`h8s runtime` child process):
 * a container sees no host processes, cannot mount or make namespaces, cannot read host files
 * outside its root and volumes, holds only Docker's default capabilities, and a fork bomb
 * stops at its pids limit while the host and the daemon stay responsive. Also: an OOM kill
 * is reported as OOMKilled, read-only roots and masked /proc paths hold.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { waitFor } from '../../src/lib/index.js';
import type { ContainerConfig, ContainerStatus, NodeRuntime } from '../../src/runtime/index.js';
import { startTestRuntime, type TestRuntime } from '../../src/runtime/testing/test-runtime.js';

describe('runc isolation', { timeout: 600_000 }, () => {
  let d: TestRuntime;
  let rt: NodeRuntime;
  let pod = '';
  let tmp = '';
  let n = 0;

  const out = (b: Uint8Array): string => Buffer.from(b).toString();

  async function run(extra: Partial<ContainerConfig>, sandbox = pod): Promise<string> {
    const id = await rt.createContainer(sandbox, {
      metadata: { name: `s${++n}`, attempt: 0 },
      image: d.busyboxRef,
      ...extra,
    });
    await rt.startContainer(id);
    return id;
  }

  async function exited(id: string): Promise<ContainerStatus> {
    return waitFor(
      async () => {
        const s = await rt.containerStatus(id);
        return s.state === 'CONTAINER_EXITED' ? s : undefined;
      },
      { timeoutMs: 60_000, description: `container ${id} to exit` },
    );
  }

  async function sh(id: string, script: string): Promise<{ code: number; out: string; err: string }> {
    const r = await rt.execSync(id, ['sh', '-c', script], 60);
    return { code: r.exitCode, out: out(r.stdout), err: out(r.stderr) };
  }

  before(async () => {
    tmp = await mkdtemp('/tmp/h8s-runc-sec-');
    d = await startTestRuntime({ handlers: ['runc'], childProcess: true });
    rt = d.client;
    pod = await rt.runPodSandbox(
      { metadata: { name: 'sec', uid: 'sec', namespace: 'sec', attempt: 0 } },
      'runc',
    );
  });

  after(async () => {
    if (process.exitCode) console.error(`runtime root: ${d?.root}\n${d?.logs().slice(-4000)}`);
    await d?.stop();
    await rm(tmp, { recursive: true, force: true });
  });

  it('sees only its own processes', async () => {
    const id = await run({ command: ['sleep', '1000'] });
    await waitFor(async () => (await rt.containerStatus(id)).state === 'CONTAINER_RUNNING', {
      timeoutMs: 30_000,
    });
    const r = await sh(id, 'ps -o pid,comm');
    const lines = r.out.trim().split('\n').slice(1);
    assert.match(lines[0] ?? '', /^\s*1\s+sleep$/, r.out);
    assert.ok(lines.length <= 4, `only the container's processes are visible:\n${r.out}`);
    assert.doesNotMatch(r.out, /node|systemd|qemu|h8s-runc-shim|runc/);
    const hostPids = (await sh(id, 'ls /proc | grep -c "^[0-9]"')).out.trim();
    assert.ok(Number(hostPids) <= 4, `processes under /proc: ${hostPids}`);
  });

  it('cannot mount, make namespaces or load kernel modules', async () => {
    const id = await run({ command: ['sleep', '1000'] });
    await waitFor(async () => (await rt.containerStatus(id)).state === 'CONTAINER_RUNNING', {
      timeoutMs: 30_000,
    });
    assert.notEqual((await sh(id, 'mkdir -p /mnt/x && mount -t tmpfs none /mnt/x')).code, 0);
    assert.notEqual((await sh(id, 'mount --bind /bin /mnt/x')).code, 0);
    assert.notEqual((await sh(id, 'mount -t proc proc /mnt/x')).code, 0);
    assert.notEqual((await sh(id, 'unshare -n true')).code, 0);
    assert.notEqual((await sh(id, 'echo 1 > /proc/sys/kernel/panic')).code, 0, '/proc/sys is read-only');
    assert.equal((await sh(id, 'cat /proc/kcore | wc -c')).out.trim(), '0', '/proc/kcore is masked');
    assert.notEqual((await sh(id, 'insmod /nonexistent.ko')).code, 0);
    // Docker's default set: no CAP_SYS_ADMIN (bit 21), no CAP_NET_ADMIN (bit 12)
    const capEff = /CapEff:\s*([0-9a-f]+)/.exec((await sh(id, 'cat /proc/self/status')).out)?.[1] ?? '';
    assert.equal(BigInt(`0x${capEff}`), 0xa80425fbn, `CapEff ${capEff} is Docker's default set`);
  });

  it('cannot read host files outside its root and volumes', async () => {
    const hostDir = join(tmp, 'host');
    await mkdir(join(hostDir, 'vol'), { recursive: true });
    await writeFile(join(hostDir, 'secret-outside'), 'host-secret\n');
    await writeFile(join(hostDir, 'vol', 'shared'), 'shared-data\n');
    await writeFile('/tmp/h8s-runc-sec-marker', 'host-tmp\n');
    try {
      const id = await run({
        command: ['sleep', '1000'],
        mounts: [{ containerPath: '/vol', hostPath: join(hostDir, 'vol'), readonly: true }],
      });
      await waitFor(async () => (await rt.containerStatus(id)).state === 'CONTAINER_RUNNING', {
        timeoutMs: 30_000,
      });
      assert.equal((await sh(id, 'cat /vol/shared')).out, 'shared-data\n');
      assert.notEqual((await sh(id, 'echo x > /vol/new')).code, 0, 'a read-only volume stays read-only');
      const escape = await sh(
        id,
        'cat /vol/../secret-outside /proc/1/root/../../secret-outside /tmp/h8s-runc-sec-marker /etc/shadow 2>&1; ls /vol/..',
      );
      assert.doesNotMatch(escape.out, /host-secret|host-tmp/);
      const found = await sh(
        id,
        'find / -xdev -name "secret-outside" -o -xdev -name "h8s-runc-sec-marker" 2>/dev/null',
      );
      assert.equal(found.out.trim(), '');
      assert.doesNotMatch((await sh(id, 'cat /etc/hostname; cat /etc/passwd')).out, /^vm$/m);
    } finally {
      await rm('/tmp/h8s-runc-sec-marker', { force: true });
    }
  });

  it('keeps a read-only root read-only', async () => {
    const id = await run({ command: ['sh', '-c', 'touch /new-file'], security: { readonlyRootfs: true } });
    assert.notEqual((await exited(id)).exitCode, 0);
  });

  it('stops a fork bomb at the pids limit and stays manageable', async () => {
    const sb = await rt.runPodSandbox(
      { metadata: { name: 'bomb', uid: 'bomb', namespace: 'sec', attempt: 0 } },
      'runc',
    );
    const id = await run(
      {
        command: ['sh', '-c', 'bomb() { bomb | bomb & }; bomb; sleep 1000'],
        resources: { pidsLimit: 64 },
      },
      sb,
    );
    const cgroupFile = async (name: string): Promise<string | undefined> => {
      for (const ctl of ['pids', '']) {
        const f = join(
          '/sys/fs/cgroup',
          ...(ctl ? [ctl] : []),
          d.cgroupParent,
          sb.slice(0, 12),
          id.slice(0, 12),
          name,
        );
        const t = await readFile(f, 'utf8').catch(() => undefined);
        if (t !== undefined) return t;
      }
      return undefined;
    };
    // pids.events counts the forks the limit refused: the bomb hit the wall
    let highest = 0;
    await waitFor(
      async () => {
        highest = Math.max(highest, Number((await cgroupFile('pids.current'))?.trim() ?? 0));
        const refused = Number(/^max (\d+)/m.exec((await cgroupFile('pids.events')) ?? '')?.[1] ?? 0);
        return refused > 0;
      },
      { timeoutMs: 60_000, description: 'the fork bomb to hit its pids limit' },
    );
    for (let i = 0; i < 20; i++)
      highest = Math.max(highest, Number((await cgroupFile('pids.current'))?.trim() ?? 0));
    assert.ok(highest > 0 && highest <= 64, `pids.current (at most ${highest}) stays within the limit of 64`);
    // the host and the daemon still answer, and the bomb can be stopped
    assert.equal((await rt.info()).version.length > 0, true);
    // (how long stopping a bombed container takes against an idle one: bench:runtime)
    await rt.stopContainer(id, 0);
    assert.equal((await rt.containerStatus(id)).state, 'CONTAINER_EXITED');
    await rt.removePodSandbox(sb);
  });

  it('reports a container killed for memory as OOMKilled', async () => {
    const sb = await rt.runPodSandbox(
      { metadata: { name: 'oom', uid: 'oom', namespace: 'sec', attempt: 0 } },
      'runc',
    );
    const id = await run(
      {
        command: ['sh', '-c', 'head -c 200000000 /dev/zero | sort > /dev/null'],
        resources: { memoryLimitInBytes: 32 * 1024 * 1024 },
      },
      sb,
    );
    const st = await exited(id);
    assert.equal(st.reason, 'OOMKilled', `exit ${st.exitCode} ${st.reason} ${st.message}`);
    await rt.removePodSandbox(sb);
  });
});
