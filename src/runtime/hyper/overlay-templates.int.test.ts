import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, truncate, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { execFile } from '../../lib/index.js';
import { OverlayTemplates } from './overlay-templates.js';

async function info(file: string): Promise<{ format: string; backing: string; size: number }> {
  const r = await execFile(['qemu-img', 'info', '--output', 'json', '-U', file]);
  const j = JSON.parse(r.stdout) as Record<string, unknown>;
  return {
    format: String(j['format']),
    backing: String(j['full-backing-filename'] ?? j['backing-filename']),
    size: Number(j['virtual-size']),
  };
}

test('overlays are qcow2 copies of one template per backing disk; a changed disk gets a new one', async (t) => {
  const dir = await mkdtemp('/tmp/h8s-ovl-');
  t.after(() => rm(dir, { recursive: true, force: true }));
  try {
    const base = join(dir, 'base.raw');
    await execFile(['truncate', '-s', '8M', base]);
    const tpl = new OverlayTemplates(join(dir, 'templates'));
    await Promise.all([tpl.create(base, join(dir, 'a.qcow2')), tpl.create(base, join(dir, 'b.qcow2'))]);
    for (const f of ['a.qcow2', 'b.qcow2'])
      assert.deepEqual(await info(join(dir, f)), { format: 'qcow2', backing: base, size: 8 * 1024 * 1024 });
    assert.equal((await readdir(join(dir, 'templates'))).length, 1, 'one template for both');
    // The image is replaced (size and mtime change): the next overlay follows it.
    await truncate(base, 16 * 1024 * 1024);
    await utimes(base, new Date(), new Date(Date.now() + 5000));
    await tpl.create(base, join(dir, 'c.qcow2'));
    assert.equal((await info(join(dir, 'c.qcow2'))).size, 16 * 1024 * 1024);
    assert.equal((await readdir(join(dir, 'templates'))).length, 2);
    await assert.rejects(tpl.create(join(dir, 'missing.raw'), join(dir, 'd.qcow2')), /ENOENT/);
  } catch (err) {
    console.error(`overlay test dir: ${dir}`);
    throw err;
  }
});
