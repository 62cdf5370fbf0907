/**
 * VM templating against real QEMU (TCG here): pods restored from a template share its guest
 * memory, get their own identity (boot id, RNG, clock), survive a daemon restart, and a
 * corrupt or stale template is rebuilt, never used. One handler (no pool) for the file: the
 * template costs one TCG boot, each clone a restore.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFile, nullLogger } from '../../lib/index.js';
import { collectBytes } from '../byte-channel.js';
import type { HandlerEvents, SandboxHandle } from '../sandbox-handler.js';
import type { PodSandboxConfig } from '../runtime-service.js';
import type { RootDisk } from '../../images/index.js';
import { buildBusyboxRootDisk, busyboxContainer } from '../testing/busybox-root-disk.js';
import { createHyperHandler, type HyperHandler } from './hyper-handler.js';
import { findGuestAssets, defaultGuestDir, type GuestAssets } from './guest-assets.js';
import { readFacts } from './qemu-vm.js';

const repo = new URL('../../..', import.meta.url).pathname;

const events = (): HandlerEvents => ({
  containerStarted: () => {},
  containerExited: () => {},
  sandboxDied: () => {},
});

function podConfig(name: string): PodSandboxConfig {
  return { metadata: { name, uid: name, namespace: 'default', attempt: 0 }, hostname: name };
}

async function run(sb: SandboxHandle, container: string, cmd: string[]): Promise<string> {
  const s = await sb.exec(container, { cmd });
  const [out, err, exit] = await Promise.all([collectBytes(s.stdout), collectBytes(s.stderr), s.exit]);
  assert.equal(exit.exitCode, 0, `${cmd.join(' ')}: ${err.toString()}`);
  return out.toString().trim();
}

describe('VM templating with real VMs', { timeout: 600_000 }, () => {
  let tmp: string;
  let guest: GuestAssets;
  let disk: RootDisk;
  let handler: HyperHandler;
  const pods: { sb: SandboxHandle; dir: string; id: string }[] = [];
  const templatesDir = (): string => join(tmp, 'hy', 'templates');

  const newHandler = (): HyperHandler =>
    createHyperHandler({
      root: join(tmp, 'hy'),
      log: nullLogger,
      kernel: guest.kernel,
      initrd: guest.initrd,
      kernelVersion: guest.kernelVersion,
      guestBuildId: guest.buildHash,
      poolSize: 0,
      useCgroups: false,
    });

  const startPod = async (name: string): Promise<{ sb: SandboxHandle; dir: string; id: string }> => {
    const dir = join(tmp, `sb-${name}`);
    await mkdir(dir);
    const id = name.padEnd(64, '0');
    const sb = await handler.startSandbox({ id, config: podConfig(name), stateDir: dir, events: events() });
    const p = { sb, dir, id };
    pods.push(p);
    await sb.createContainer(
      busyboxContainer(disk, 'main', join(tmp, 'logs'), { command: ['sleep', '1000'] }),
    );
    await sb.startContainer('main');
    return p;
  };

  /** The vm.json of a pod's VM (its vmId is recorded in the sandbox state). */
  const factsOf = async (dir: string): Promise<NonNullable<Awaited<ReturnType<typeof readFacts>>>> => {
    const state = JSON.parse(await readFile(join(dir, 'hyper.json'), 'utf8')) as { vmId: string };
    const f = await readFacts(join(tmp, 'hy', 'vms', state.vmId));
    assert.ok(f, `vm.json of ${state.vmId}`);
    return f;
  };

  before(async () => {
    tmp = await mkdtemp('/tmp/h8s-tpl-');
    await mkdir(join(tmp, 'logs'));
    guest = await findGuestAssets(defaultGuestDir(repo));
    disk = await buildBusyboxRootDisk(tmp);
    handler = newHandler();
  });

  after(async () => {
    for (const p of pods) await p.sb.destroy().catch(() => {});
    await handler?.shutdownPool().catch(() => {});
    await handler?.close().catch(() => {});
    // Any QEMU left behind by a failed test runs with a path under this test's directory.
    const left = await execFile(['sh', '-c', `pgrep -f -- '${tmp}/' || true`]);
    for (const pid of left.stdout.split('\n').filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // gone
      }
    }
    if (process.exitCode) console.error(`test directory: ${tmp}`);
    await rm(tmp, { recursive: true, force: true });
  });

  test('a pod is a clone of the template: container and exec work, identity is its own', async () => {
    const a = await startPod('tpl-a');
    const b = await startPod('tpl-b');
    const templates = (await readdir(templatesDir())).filter((n) => !n.startsWith('.'));
    assert.equal(templates.length, 1, `one template: ${templates.join(',')}`);
    const name = templates[0] as string;
    assert.ok(name.startsWith(guest.buildHash.slice(0, 12)), name);
    for (const p of [a, b]) {
      const f = await factsOf(p.dir);
      assert.equal(f.template, name, 'the VM was restored from the template');
      assert.equal(f.balloon, false);
    }
    assert.equal(await run(a.sb, 'main', ['uname', '-r']), guest.kernelVersion);
    assert.equal(await run(a.sb, 'main', ['hostname']), 'tpl-a');
    // Each clone has its own kernel boot id and random stream, and the host's time.
    const bootA = await run(a.sb, 'main', ['cat', '/proc/sys/kernel/random/boot_id']);
    const bootB = await run(b.sb, 'main', ['cat', '/proc/sys/kernel/random/boot_id']);
    assert.match(bootA, /^[0-9a-f-]{36}$/);
    assert.notEqual(bootA, bootB);
    const rnd = ['sh', '-c', 'head -c 32 /dev/urandom | od -An -tx1 | tr -d " \\n"'];
    const rndA = await run(a.sb, 'main', rnd);
    const rndB = await run(b.sb, 'main', rnd);
    assert.match(rndA, /^[0-9a-f]{64}$/);
    assert.notEqual(rndA, rndB);
    const guestNow = Number(await run(a.sb, 'main', ['date', '+%s']));
    assert.ok(
      Math.abs(guestNow - Date.now() / 1000) < 120,
      `guest clock ${guestNow} vs host ${Date.now() / 1000}`,
    );
  });

  test('a cloned pod is re-adopted after a daemon restart', async () => {
    const a = pods[0];
    assert.ok(a);
    await handler.close();
    handler = newHandler();
    const adopted = await handler.adoptSandbox({
      id: a.id,
      config: podConfig('tpl-a'),
      stateDir: a.dir,
      events: events(),
      containers: [
        {
          spec: busyboxContainer(disk, 'main', join(tmp, 'logs'), { command: ['sleep', '1000'] }),
          started: true,
          exited: false,
        },
      ],
    });
    assert.ok(adopted, 'the clone is re-adopted');
    a.sb = adopted;
    assert.equal(await run(adopted, 'main', ['echo', 'after-restart']), 'after-restart');
  });

  test('a corrupt template is rebuilt, not used; a stale one is removed', async () => {
    const [name] = (await readdir(templatesDir())).filter((n) => !n.startsWith('.'));
    assert.ok(name);
    const dir = join(templatesDir(), name);
    const before = JSON.parse(await readFile(join(dir, 'template.json'), 'utf8')) as { builtAtMs: number };
    // A flipped byte in the device state.
    const state = await readFile(join(dir, 'state'));
    const mid = state.length >> 1;
    state[mid] = (state[mid] ?? 0) ^ 0xff;
    await writeFile(join(dir, 'state'), state);
    // A template of another guest build.
    await mkdir(join(templatesDir(), 'deadbeef0000-1c128m-tcg-tb16-00000000'));
    await handler.close();
    handler = newHandler();
    const c = await startPod('tpl-c');
    const after = JSON.parse(await readFile(join(dir, 'template.json'), 'utf8')) as { builtAtMs: number };
    assert.ok(after.builtAtMs > before.builtAtMs, 'the template was rebuilt');
    assert.equal((await factsOf(c.dir)).template, name);
    assert.equal(await run(c.sb, 'main', ['echo', 'ok']), 'ok');
    assert.deepEqual(
      (await readdir(templatesDir())).filter((n) => !n.startsWith('.')),
      [name],
      'the stale template is gone',
    );
  });
});
