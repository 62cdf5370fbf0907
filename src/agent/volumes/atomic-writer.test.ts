import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isInvalid } from '../../lib/index.js';
import { writeAtomically, type PayloadFile } from './atomic-writer.js';

const file = (s: string, mode = 0o644): PayloadFile => ({ data: Buffer.from(s), mode });

describe('atomic writer', () => {
  it('writes a generation behind ..data, swaps it on change, and keeps nothing stale', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'h8s-aw-'));
    try {
      assert.equal(
        await writeAtomically(
          dir,
          new Map([
            ['a', file('1')],
            ['sub/b', file('2', 0o600)],
          ]),
        ),
        true,
      );
      assert.equal(await readFile(join(dir, 'a'), 'utf8'), '1');
      assert.equal(await readFile(join(dir, 'sub/b'), 'utf8'), '2');
      assert.equal(await readlink(join(dir, 'a')), '..data/a');
      const first = await readlink(join(dir, '..data'));
      assert.equal(
        await writeAtomically(
          dir,
          new Map([
            ['a', file('1')],
            ['sub/b', file('2', 0o600)],
          ]),
        ),
        false,
        'same payload: no change',
      );
      assert.equal(await readlink(join(dir, '..data')), first);
      assert.equal(
        await writeAtomically(
          dir,
          new Map([
            ['a', file('3')],
            ['c', file('4')],
          ]),
        ),
        true,
      );
      assert.equal(await readFile(join(dir, 'a'), 'utf8'), '3');
      assert.equal(await readFile(join(dir, 'c'), 'utf8'), '4');
      const names = (await readdir(dir)).sort();
      assert.equal(names.includes('sub'), false, 'a removed key disappears');
      assert.equal(
        names.filter((n) => n.startsWith('..') && n !== '..data').length,
        1,
        'one generation left',
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses paths that could leave the volume', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'h8s-aw-'));
    try {
      for (const bad of ['../etc/passwd', '/abs', 'a/../../x', '..data', '']) {
        await assert.rejects(
          writeAtomically(dir, new Map([[bad, file('x')]])),
          (e: unknown) => isInvalid(e),
          bad,
        );
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
