/**
 * VM templating without VMs: the QEMU command lines of templates and clones, the kernel stub,
 * and refused paths. The real thing is vm-template.int.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isInvalid, nullLogger } from '../../lib/index.js';
import { qemuArgv, type VmSpec } from './qemu-vm.js';
import { kernelStub, VmTemplates } from './vm-template.js';

const spec: VmSpec = {
  vmId: 'v1',
  dir: '/tmp/v1',
  qemuBinary: 'qemu-system-x86_64',
  kernel: '/k/vmlinuz',
  initrd: '/k/initrd.img',
  cpus: 1,
  memoryMiB: 128,
  accel: 'tcg',
  tbSizeMiB: 16,
  rootPorts: 8,
  kernelArgs: ['console=ttyS0', 'h8s.template'],
  useCgroup: false,
};
const sockets = { qmp: '/tmp/v1/qmp.sock', ctl: '/tmp/v1/ctl.sock', console: '/tmp/v1/con.sock' };

test('templates map RAM shared, clones private with -incoming and the kernel stub; neither has a balloon', () => {
  const tpl = qemuArgv({ ...spec, ram: { mode: 'template', file: '/t/x/ram' } }, sockets).join(' ');
  assert.match(tpl, /memory-backend-file,id=ram,size=128M,mem-path=\/t\/x\/ram,share=on/);
  assert.doesNotMatch(tpl, /virtio-balloon|-incoming|memory-backend-memfd/);
  assert.match(tpl, /-kernel \/k\/vmlinuz /);
  const clone = qemuArgv(
    {
      ...spec,
      ram: {
        mode: 'clone',
        file: '/t/x/ram',
        stateFile: '/t/x/state',
        template: 'x',
        kernelStub: '/t/x/kernel-stub',
      },
    },
    sockets,
  );
  const c = clone.join(' ');
  assert.match(c, /mem-path=\/t\/x\/ram,share=off/);
  assert.doesNotMatch(c, /virtio-balloon/);
  assert.match(c, /-kernel \/t\/x\/kernel-stub /);
  assert.deepEqual(clone.slice(-2), ['-incoming', 'defer']);
  // Everything else is the template's command line (the restore needs identical devices).
  const strip = (a: string[]): string[] =>
    a.filter((x) => !/mem-path=|kernel-stub|vmlinuz|^-incoming$|^defer$/.test(x));
  assert.deepEqual(
    strip(clone),
    strip(qemuArgv({ ...spec, ram: { mode: 'template', file: '/t/x/ram' } }, sockets)),
  );
  // A VM without templating keeps its memfd RAM and balloon.
  assert.match(qemuArgv(spec, sockets).join(' '), /memory-backend-memfd.*virtio-balloon-pci/);
});

test('paths handed to the shell of exec: migration or to mem-path refuse metacharacters', () => {
  assert.throws(
    () => qemuArgv({ ...spec, ram: { mode: 'template', file: '/t/x;rm -rf /' } }, sockets),
    (err: unknown) => isInvalid(err),
  );
  assert.throws(
    () => qemuArgv({ ...spec, ram: { mode: 'template', file: '/t/a b/ram' } }, sockets),
    (err: unknown) => isInvalid(err),
  );
});

test('the kernel stub keeps the boot sectors and refuses what is not a bzImage', async () => {
  const tmp = await mkdtemp('/tmp/h8s-stub-');
  try {
    const image = Buffer.alloc(64 * 1024, 7);
    image.write('HdrS', 0x202, 'latin1');
    image[0x1f1] = 3;
    await writeFile(join(tmp, 'bz'), image);
    const stub = await kernelStub(join(tmp, 'bz'));
    assert.equal(stub.length, 4 * 512 + 4096);
    assert.deepEqual(stub, image.subarray(0, stub.length));
    await writeFile(join(tmp, 'elf'), Buffer.alloc(4096));
    await assert.rejects(
      kernelStub(join(tmp, 'elf')),
      (err: unknown) => isInvalid(err) && /not a bzImage/.test(String(err)),
    );
    const short = image.subarray(0, 1024);
    await writeFile(join(tmp, 'short'), short);
    await assert.rejects(kernelStub(join(tmp, 'short')), (err: unknown) => isInvalid(err));
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});

test('sizes beyond the template limit boot cold instead of building another template', async () => {
  const tmp = await mkdtemp('/tmp/h8s-tpl-limit-');
  try {
    await mkdir(join(tmp, 'someother-1c256m-tcg-tb16-00000000'));
    const t = new VmTemplates({
      root: tmp,
      buildId: 'b'.repeat(16),
      qemuBinary: join(tmp, 'no-qemu'),
      kernel: join(tmp, 'no-kernel'),
      initrd: join(tmp, 'no-initrd'),
      kernelArgs: ['h8s.template'],
      accel: 'tcg',
      tbSizeMiB: 16,
      rootPorts: 8,
      bootTimeoutMs: 1000,
      log: nullLogger,
      maxTemplates: 1,
    });
    assert.equal(await t.get({ cpus: 1, memoryMiB: 128 }), undefined);
    assert.deepEqual(await readdir(tmp), ['someother-1c256m-tcg-tb16-00000000'], 'nothing was built');
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});
