import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemExec, type Exec } from '../../lib/index.js';
import { OverlayTemplates } from './overlay-templates.js';

/** An Exec that plays qemu-img: writes the file it was asked to create, and records the call. */
function fakeQemuImg(fail = false): { exec: Exec; calls: string[][] } {
  const calls: string[][] = [];
  return {
    calls,
    exec: {
      spawnProcess: systemExec.spawnProcess,
      async execFile(argv) {
        calls.push([...argv]);
        if (fail) throw new Error('qemu-img: Could not open backing file');
        await writeFile(argv[argv.length - 1] as string, `qcow2 over ${argv[argv.indexOf('-b') + 1]}`);
        return {
          stdout: '',
          stderr: '',
          exitCode: 0,
          exitSignal: null,
          stdoutBytes: Buffer.alloc(0),
          durationMs: 0,
        };
      },
    },
  };
}

describe('overlay templates (the injected Exec)', () => {
  it('makes one qcow2 template per backing disk with qemu-img and copies it for every overlay', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'h8s-overlays-'));
    try {
      await writeFile(join(dir, 'root.raw'), 'disk');
      const { exec, calls } = fakeQemuImg();
      const t = new OverlayTemplates(join(dir, 'templates'), 4, exec);
      await t.create(join(dir, 'root.raw'), join(dir, 'a.qcow2'));
      await t.create(join(dir, 'root.raw'), join(dir, 'b.qcow2'));
      assert.equal(calls.length, 1);
      assert.deepEqual(calls[0]?.slice(0, 9), [
        'qemu-img',
        'create',
        '-q',
        '-f',
        'qcow2',
        '-F',
        'raw',
        '-b',
        join(dir, 'root.raw'),
      ]);
      assert.equal(await readFile(join(dir, 'b.qcow2'), 'utf8'), `qcow2 over ${join(dir, 'root.raw')}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("reports qemu-img's failure and leaves no temporary file behind", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'h8s-overlays-'));
    try {
      await writeFile(join(dir, 'root.raw'), 'disk');
      const t = new OverlayTemplates(join(dir, 'templates'), 4, fakeQemuImg(true).exec);
      await assert.rejects(
        t.create(join(dir, 'root.raw'), join(dir, 'a.qcow2')),
        /Could not open backing file/,
      );
      assert.deepEqual(await readdir(join(dir, 'templates')), []);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
