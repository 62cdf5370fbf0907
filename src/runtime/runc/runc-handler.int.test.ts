import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createMemoryLogger, waitFor } from '../../lib/index.js';
import { collectBytes } from '../byte-channel.js';
import { unmountAll } from '../host-mounts.js';
import type { ContainerConfig } from '../runtime-service.js';
import type { ContainerExit, SandboxHandle, SandboxHandler } from '../sandbox-handler.js';
import { buildBusyboxLayer, busyboxImageRecord } from '../testing/busybox-layer.js';
import { removeCgroupTree, detectCgroupVersion } from './cgroups.js';
import { createRuncHandler } from './runc-handler.js';

const repoCache = new URL('../../../.cache/runtime', import.meta.url).pathname;

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
    handler = createRuncHandler({ runcRoot: join(dir, 'runc'), shimCacheDir: repoCache, cgroupParent, log });
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
    const t0 = Date.now();
    await sandbox.stopContainer(id, 1, 'SIGTERM');
    assert.ok(Date.now() - t0 >= 900, 'sleep ignores SIGTERM as PID 1, so the grace period runs out');
    assert.equal((await exitOf(id)).exitCode, 137);
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
});
