import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isInvalid } from '../lib/index.js';
import { ImageStore } from './image-store.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function fresh(): Promise<{ root: string; store: ImageStore }> {
  const root = await mkdtemp(join(tmpdir(), 'h8s-image-store-'));
  dirs.push(root);
  const store = new ImageStore(root);
  await store.init();
  return { root, store };
}

describe('image store state', () => {
  it('serializes concurrent updates so none is lost', async () => {
    const { store } = await fresh();
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        store.update((s) => {
          s.holders[`h${i}`] = 'sha256:' + String(i % 10).repeat(64);
          return { state: s, result: undefined };
        }),
      ),
    );
    assert.equal(Object.keys((await store.read()).holders).length, 20);
  });

  it('breaks a lock left by a dead process or by a writer that died before writing its pid', async () => {
    const { root, store } = await fresh();
    await mkdir(join(root, 'state', 'lock.d'));
    await writeFile(join(root, 'state', 'lock.d', 'pid'), '999999999');
    await store.update((s) => ({ state: s, result: undefined }));
    await mkdir(join(root, 'state', 'lock.d'));
    const old = new Date(Date.now() - 60_000);
    await utimes(join(root, 'state', 'lock.d'), old, old);
    await store.update((s) => ({ state: s, result: undefined }));
  });

  it('refuses a corrupt state file with Invalid instead of starting empty', async () => {
    const { root, store } = await fresh();
    await writeFile(join(root, 'state', 'images.json'), '{"version":1,"images":{"x":{}}}');
    await assert.rejects(store.read(), isInvalid);
  });
});
