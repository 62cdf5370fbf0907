import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { execFile, isInvalid } from '../../lib/index.js';
import { busyboxImageRecord } from '../testing/busybox-layer.js';
import { guestKernelArgs, vmSize } from './hyper-handler.js';
import { containerProcess } from './hyper-sandbox.js';
import { qemuArgv } from './qemu-vm.js';

const limits = { defaultCpus: 1, defaultMemoryMiB: 128, minMemoryMiB: 96, maxMemoryMiB: 4096, maxCpus: 16 };
const meta = { name: 'p', uid: 'u', namespace: 'd', attempt: 0 };

test('VM size: defaults, CPUs rounded up from millicores, memory in MiB', () => {
  assert.deepEqual(vmSize({ metadata: meta }, limits), { cpus: 1, memoryMiB: 128 });
  assert.deepEqual(
    vmSize({ metadata: meta, resources: { cpuMillis: 1500, memoryBytes: 256 * 1024 * 1024 + 1 } }, limits),
    {
      cpus: 2,
      memoryMiB: 257,
    },
  );
});

test('VM size: absurd sizes are Invalid with the field that is wrong', () => {
  for (const [resources, field, msg] of [
    [{ memoryBytes: 32 * 1024 * 1024 }, 'resources.memoryBytes', /at least 96 MiB/],
    [{ memoryBytes: 1e15 }, 'resources.memoryBytes', /at most 4096 MiB/],
    [{ memoryBytes: -5 }, 'resources.memoryBytes', /positive/],
    [{ cpuMillis: 64_000 }, 'resources.cpuMillis', /at most 16 vCPUs/],
    [{ cpuMillis: Number.NaN }, 'resources.cpuMillis', /positive/],
  ] as const) {
    assert.throws(
      () => vmSize({ metadata: meta, resources }, limits),
      (err: unknown) => {
        assert.ok(isInvalid(err));
        const causes = (err as { details: { causes: { field: string; message: string }[] } }).details.causes;
        assert.equal(causes[0]?.field, field);
        assert.match(causes[0]?.message ?? '', msg);
        return true;
      },
    );
  }
});

test('container process: CRI command/args over the image ENTRYPOINT/CMD, env merged, user from security', () => {
  const image = busyboxImageRecord({
    entrypoint: ['/ep'],
    cmd: ['default'],
    env: ['A=1', 'B=2'],
    workingDir: '/srv',
    user: 'app',
  });
  const spec = (config: object) => ({
    id: 'c',
    config: { metadata: { name: 'c', attempt: 0 }, image: 'x', ...config },
    image,
    logPath: '/l',
    rootfs: { kind: 'disk' as const, disk: { path: '/d', fsType: 'ext4' as const, sizeBytes: 1 } },
  });
  assert.deepEqual(containerProcess(spec({})), {
    args: ['/ep', 'default'],
    env: ['A=1', 'B=2'],
    cwd: '/srv',
    user: 'app',
  });
  assert.deepEqual(containerProcess(spec({ args: ['x'] })).args, ['/ep', 'x']);
  assert.deepEqual(containerProcess(spec({ command: ['sh'], args: ['-c', 'true'] })).args, [
    'sh',
    '-c',
    'true',
  ]);
  assert.deepEqual(containerProcess(spec({ command: ['sh'] })).args, ['sh']);
  const p = containerProcess(
    spec({
      envs: [{ key: 'B', value: '3' }],
      workingDir: '/w',
      security: { runAsUser: 1000, runAsGroup: 2000 },
    }),
  );
  assert.deepEqual(p.env, ['A=1', 'B=3']);
  assert.equal(p.cwd, '/w');
  assert.equal(p.user, '1000:2000');
  const none = { ...spec({}), image: busyboxImageRecord({ cmd: [] }) };
  assert.throws(
    () => containerProcess(none),
    (e: unknown) => isInvalid(e),
  );
});

test('the QEMU command line: trimmed microvm, hot-plug ports, TCG flags only under TCG', () => {
  const spec = {
    vmId: 'v',
    dir: '/x',
    qemuBinary: 'qemu-system-x86_64',
    kernel: '/k',
    initrd: '/i',
    cpus: 2,
    memoryMiB: 128,
    accel: 'tcg' as const,
    tbSizeMiB: 16,
    rootPorts: 10,
    kernelArgs: guestKernelArgs('tcg', 2_000_000),
    useCgroup: false,
  };
  const sockets = { qmp: '/x/q', ctl: '/x/c', console: '/x/con' };
  const tcg = qemuArgv(spec, sockets);
  for (const f of ['-nodefaults', '-no-user-config', '-nographic', '-no-reboot'])
    assert.ok(tcg.includes(f), f);
  assert.ok(tcg.includes('tcg,tb-size=16'));
  assert.equal(tcg.filter((a) => a.startsWith('pcie-root-port')).length, 10);
  assert.ok(
    tcg.some((a) => a.includes('addr=11.1')),
    'ninth port in the next slot',
  );
  assert.match(tcg[tcg.indexOf('-append') + 1] ?? '', /tsc_early_khz=2000000/);
  // Disks go to a virtio-scsi controller (no scan of 256 targets at boot); the balloon gives
  // pages back on guest OOM; KVM and TCG share both.
  assert.ok(tcg.includes('virtio-scsi-pci,id=scsi0'));
  assert.ok(tcg.includes('memory-backend-memfd,id=ram,size=128M'));
  assert.ok(!qemuArgv({ ...spec, ramBackend: 'anon' }, sockets).some((a) => a.includes('memfd')));
  assert.match(tcg[tcg.indexOf('-append') + 1] ?? '', /scsi_mod\.scan=none/);
  assert.ok(tcg.some((a) => a.startsWith('virtio-balloon-pci') && a.includes('deflate-on-oom=on')));
  const kvm = qemuArgv({ ...spec, accel: 'kvm', kernelArgs: guestKernelArgs('kvm', 2_000_000) }, sockets);
  assert.ok(kvm.includes('host') && kvm.includes('kvm'));
  assert.ok(!kvm.some((a) => a.includes('tb-size')));
  assert.doesNotMatch(kvm[kvm.indexOf('-append') + 1] ?? '', /tsc_early_khz/);
  assert.ok(kvm.includes('virtio-scsi-pci,id=scsi0'));
  assert.ok(kvm.some((a) => a.includes('deflate-on-oom=on')));
});

test("the guest agent's JSON parser survives hostile input (C self test)", async () => {
  const guest = join(new URL('../../..', import.meta.url).pathname, 'guest');
  const r = await execFile(['make', '-s', '-C', guest, 'test'], { timeoutMs: 120_000 });
  assert.match(r.stdout, /json-test: ok/);
});
