import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, mkdir, readdir, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createMemoryLogger, errorCode, waitFor } from '../../lib/index.js';
import { collectBytes } from '../byte-channel.js';
import { unmountAll } from '../host-mounts.js';
import type { ContainerConfig } from '../runtime-service.js';
import type { ContainerExit, SandboxHandle, SandboxHandler } from '../sandbox-handler.js';
import { buildBusyboxLayer, busyboxImageRecord } from '../testing/busybox-layer.js';
import { removeCgroupTree, detectCgroupVersion } from './cgroups.js';
import { createRuncHandler } from './runc-handler.js';

describe('runc handler', () => {
  let dir = '';
  let layer = '';
  let handler: SandboxHandler;
  let sandbox: SandboxHandle;
  const cgroupParent = `/h8s-test-${randomBytes(4).toString('hex')}`;
  const exits = new Map<string, ContainerExit>();
  const started = new Set<string>();
  let n = 0;
  const { log, records } = createMemoryLogger('info');

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'h8s-runc-'));
    layer = await buildBusyboxLayer(join(dir, 'layer'));
    handler = createRuncHandler({
      runcRoot: join(dir, 'runc'),
      cgroupParent,
      log,
      logMaxBytes: 64 * 1024,
      logMaxFiles: 3,
    });
    const probe = await handler.probe();
    assert.equal(probe.available, true, probe.reason);
    await mkdir(join(dir, 'sb'), { recursive: true });
    sandbox = await handler.startSandbox({
      id: 'a'.repeat(64),
      config: { metadata: { name: 'pod1', uid: 'u1', namespace: 'test', attempt: 0 }, hostname: 'pod-one' },
      stateDir: join(dir, 'sb'),
      events: {
        containerStarted: (id) => started.add(id),
        containerExited: (e) => exits.set(e.containerId, e),
        sandboxDied: () => {},
      },
    });
  });

  after(async () => {
    try {
      await sandbox?.destroy();
    } finally {
      await unmountAll(dir).catch(() => {});
      await removeCgroupTree(cgroupParent, await detectCgroupVersion());
      await rm(dir, { recursive: true, force: true });
    }
    if (process.exitCode) console.error(`test dir: ${dir}`, records.slice(-20));
  });

  async function run(config: Partial<ContainerConfig> & { command: string[] }): Promise<string> {
    const id = (++n).toString(16).padStart(2, '0') + randomBytes(31).toString('hex');
    await sandbox.createContainer({
      id,
      config: { metadata: { name: `c${n}`, attempt: 0 }, image: 'local/busybox:test', ...config },
      image: busyboxImageRecord(),
      logPath: join(dir, 'logs', `c${n}.log`),
      rootfs: { kind: 'layers', tree: { lowerDirs: [layer] } },
    });
    await sandbox.startContainer(id);
    return id;
  }

  const exitOf = (id: string) => waitFor(() => exits.get(id), { timeoutMs: 20_000, description: 'exit' });

  it('runs a container, writes its CRI log and reports its exit code', async () => {
    const id = await run({ command: ['sh', '-c', 'echo hello; echo oops >&2; hostname; exit 3'] });
    const exit = await exitOf(id);
    assert.equal(exit.exitCode, 3, exit.message);
    assert.equal(exit.reason, 'Error');
    assert.ok(started.has(id));
    const text = await readFile(join(dir, 'logs', `c1.log`), 'utf8');
    assert.match(text, /^\S+Z stdout F hello$/m);
    assert.match(text, /^\S+Z stderr F oops$/m);
    assert.match(text, /stdout F pod-one$/m);
  });

  it('reports a missing command as exit 127', async () => {
    const id = await run({ command: ['/no/such/program'] });
    const exit = await exitOf(id);
    assert.equal(exit.exitCode, 127);
    assert.equal(exit.reason, 'ContainerCannotRun');
    assert.match(exit.message ?? '', /no such file/);
  });

  it('execs in a running container with env, and stops it with a grace period', async () => {
    const id = await run({ command: ['sleep', '1000'], envs: [{ key: 'FOO', value: 'bar' }] });
    const s = await sandbox.exec(id, { cmd: ['sh', '-c', 'echo $FOO; id -u; exit 5'] });
    const [out, , code] = await Promise.all([collectBytes(s.stdout), collectBytes(s.stderr), s.exit]);
    assert.equal(out.toString(), 'bar\n0\n');
    assert.equal(code.exitCode, 5);
    // sleep ignores SIGTERM as PID 1: the grace period runs out and SIGKILL ends it (137).
    // How long the stop takes against its grace period is measured in bench:runtime.
    await sandbox.stopContainer(id, 1, 'SIGTERM');
    assert.equal((await exitOf(id)).exitCode, 137);
  });

  it('stops a container with its stop signal first, before the grace period ends', async () => {
    const id = await run({
      command: [
        'sh',
        '-c',
        'trap "echo got-term; exit 7" TERM; touch /tmp/trapped; while true; do sleep 0.1; done',
      ],
    });
    // A SIGTERM before the trap is set would be ignored (PID 1 has no default action): wait.
    await waitFor(
      async () => {
        const s = await sandbox.exec(id, { cmd: ['test', '-e', '/tmp/trapped'] });
        await Promise.all([collectBytes(s.stdout), collectBytes(s.stderr)]);
        return (await s.exit).exitCode === 0;
      },
      { timeoutMs: 30_000, description: 'the trap to be set' },
    );
    await sandbox.stopContainer(id, 60, 'SIGTERM');
    // Its own exit code, not 137: the stop signal reached it and SIGKILL was not needed.
    assert.equal((await exitOf(id)).exitCode, 7);
  });

  it('gives exec stdin and a half-close', async () => {
    const id = await run({ command: ['sleep', '1000'] });
    const s = await sandbox.exec(id, { cmd: ['cat'], stdin: true });
    await s.writeStdin(Buffer.from('ping\n'));
    await s.closeStdin();
    const [out, code] = await Promise.all([collectBytes(s.stdout), s.exit]);
    assert.equal(out.toString(), 'ping\n');
    assert.equal(code.exitCode, 0);
    await sandbox.stopContainer(id, 0, 'SIGKILL');
  });

  it('ends an exec whose background child keeps its output open', async () => {
    const id = await run({ command: ['sleep', '1000'] });
    const s = await sandbox.exec(id, { cmd: ['sh', '-c', 'sleep 1000 & echo hi; exit 2'] });
    const [out, , code] = await Promise.all([collectBytes(s.stdout), collectBytes(s.stderr), s.exit]);
    assert.equal(out.toString(), 'hi\n');
    assert.equal(code.exitCode, 2);
    await sandbox.stopContainer(id, 0, 'SIGKILL');
  });

  it('runs exec with a terminal', async () => {
    const id = await run({ command: ['sleep', '1000'] });
    const s = await sandbox.exec(id, {
      cmd: ['sh', '-c', 'stty size; tty'],
      tty: true,
      initialSize: { width: 100, height: 40 },
    });
    const [out, code] = await Promise.all([collectBytes(s.stdout), s.exit]);
    assert.match(out.toString(), /40 100/);
    assert.match(out.toString(), /\/dev\/pts\/\d+/);
    assert.equal(code.exitCode, 0);
    await sandbox.stopContainer(id, 0, 'SIGKILL');
  });

  it("rotates a chatty container's log by size and keeps the newest output", async () => {
    const id = await run({
      command: [
        'sh',
        '-c',
        'i=0; while [ $i -lt 4000 ]; do echo "line-$i-$(printf %080d 0)"; i=$((i+1)); done',
      ],
    });
    assert.equal((await exitOf(id)).exitCode, 0);
    const log = join(dir, 'logs', `c${n}.log`);
    const files = await readdir(join(dir, 'logs'));
    assert.ok(files.includes(`c${n}.log.1`) && files.includes(`c${n}.log.2`), files.join(' '));
    assert.ok(!files.includes(`c${n}.log.3`), 'at most logMaxFiles files are kept');
    for (const f of [log, `${log}.1`, `${log}.2`]) assert.ok((await stat(f)).size <= 64 * 1024);
    const text = await readFile(log, 'utf8');
    assert.match(text, /line-3999-/);
  });

  it('updates resources and reports stats of a running container', async () => {
    const id = await run({ command: ['sleep', '1000'], resources: { memoryLimitInBytes: 64 * 1024 * 1024 } });
    await sandbox.updateResources(id, { memoryLimitInBytes: 96 * 1024 * 1024, pidsLimit: 100 });
    const limit = await readFile(
      join('/sys/fs/cgroup/memory', cgroupParent, 'a'.repeat(12), id.slice(0, 12), 'memory.limit_in_bytes'),
      'utf8',
    ).catch(() =>
      readFile(join('/sys/fs/cgroup', cgroupParent, 'a'.repeat(12), id.slice(0, 12), 'memory.max'), 'utf8'),
    );
    assert.equal(limit.trim(), String(96 * 1024 * 1024));
    const stats = await sandbox.stats(id);
    assert.equal(stats.containerId, id);
    assert.ok(stats.memoryWorkingSetBytes > 0);
    await sandbox.stopContainer(id, 0, 'SIGKILL');
  });

  it('formats a block volume on first use and keeps its data for the next pod', async () => {
    const image = join(dir, 'vol.img');
    await writeFile(image, '');
    await truncate(image, 64 * 1024 * 1024);
    const mounts = [
      { containerPath: '/data', hostPath: image, type: 'block' as const, fsType: 'ext4' as const },
    ];
    const id = await run({
      command: ['sh', '-c', 'echo kept > /data/file && grep -q " /data " /proc/mounts'],
      mounts,
    });
    assert.equal((await exitOf(id)).exitCode, 0);
    await sandbox.removeContainer(id);
    const again = await run({ command: ['cat', '/data/file'], mounts });
    assert.equal((await exitOf(again)).exitCode, 0);
    assert.match(await readFile(join(dir, 'logs', `c${n}.log`), 'utf8'), /stdout F kept$/m);
    const bad = sandbox.createContainer({
      id: 'ff' + randomBytes(31).toString('hex'),
      config: {
        metadata: { name: 'bad', attempt: 0 },
        image: 'x',
        command: ['true'],
        mounts: [{ containerPath: '/d', hostPath: join(dir, 'missing.img'), type: 'block' }],
      },
      image: busyboxImageRecord(),
      logPath: join(dir, 'logs', 'bad.log'),
      rootfs: { kind: 'layers', tree: { lowerDirs: [layer] } },
    });
    await assert.rejects(bad, (e: unknown) => errorCode(e) === 'Invalid');
  });

  it('is adopted by a new handler: running containers, exits while away, starts it never heard of', async () => {
    const running = await run({ command: ['sleep', '1000'] });
    const gone = await run({ command: ['sh', '-c', 'exit 5'] });
    const unheard = await run({ command: ['sleep', '1000'] });
    await exitOf(gone);
    const spec = (id: string) => ({
      id,
      config: { metadata: { name: id.slice(0, 6), attempt: 0 }, image: 'local/busybox:test' },
      image: busyboxImageRecord(),
      logPath: join(dir, 'logs', 'x.log'),
      rootfs: { kind: 'layers' as const, tree: { lowerDirs: [layer] } },
    });
    const exits2 = new Map<string, ContainerExit>();
    const started2 = new Set<string>();
    const second = createRuncHandler({
      runcRoot: join(dir, 'runc'),
      cgroupParent,
      log,
    });
    const adopted = await second.adoptSandbox({
      id: 'a'.repeat(64),
      config: { metadata: { name: 'pod1', uid: 'u1', namespace: 'test', attempt: 0 }, hostname: 'pod-one' },
      stateDir: join(dir, 'sb'),
      events: {
        containerStarted: (id) => started2.add(id),
        containerExited: (e) => exits2.set(e.containerId, e),
        sandboxDied: () => {},
      },
      containers: [
        { spec: spec(running), started: true, exited: false },
        { spec: spec(gone), started: true, exited: false },
        { spec: spec(unheard), started: false, exited: false },
      ],
    });
    assert.ok(adopted);
    assert.equal(exits2.get(gone)?.exitCode, 5, 'an exit that happened while away is reported with its code');
    assert.ok(started2.has(unheard), 'a start the daemon never heard back from is recognised');
    const s = await adopted.exec(running, { cmd: ['echo', 'adopted'] });
    const [out, code] = await Promise.all([collectBytes(s.stdout), s.exit, collectBytes(s.stderr)]);
    assert.equal(out.toString(), 'adopted\n');
    assert.equal(code.exitCode, 0);
    await adopted.stopContainer(unheard, 0, 'SIGKILL');
    assert.equal(exits2.get(unheard)?.exitCode, 137);
    await adopted.stopContainer(running, 0, 'SIGKILL');
    assert.equal(exits2.get(running)?.exitCode, 137);
  });
});
