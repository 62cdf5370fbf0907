import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { access, mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as turn } from 'node:timers/promises';
import { ManualClock, isInvalid, isTimeout, waitFor } from '../lib/index.js';
import { ImageStore, type ImageStoreOptions } from './image-store.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function tempRoot(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'h8s-image-store-'));
  dirs.push(root);
  return root;
}

async function open(root: string, options: ImageStoreOptions = {}): Promise<ImageStore> {
  const store = new ImageStore(root, options);
  await store.init();
  return store;
}

const digest = (i: number): string => 'sha256:' + String(i % 10).repeat(64);

/** Adds holder `name`, yielding to the event loop between reading the state and writing it. */
function addHolder(store: ImageStore, name: string, i: number): Promise<void> {
  return store.update(async (s) => {
    await turn(); // another writer gets every chance to run between our read and our write
    s.holders[name] = digest(i);
    return { state: s, result: undefined };
  });
}

async function lockExists(root: string): Promise<boolean> {
  return access(join(root, 'state', 'lock.d')).then(
    () => true,
    () => false,
  );
}

/** Writes a lock directory as a writer with process id `pid` would. */
async function holdLock(root: string, pid: number | undefined): Promise<void> {
  await mkdir(join(root, 'state', 'lock.d'));
  if (pid !== undefined) await writeFile(join(root, 'state', 'lock.d', 'pid'), String(pid));
}

describe('image store state', () => {
  it('serializes concurrent updates so none is lost', async () => {
    const store = await open(await tempRoot());
    await Promise.all(Array.from({ length: 20 }, (_, i) => addHolder(store, `h${i}`, i)));
    assert.equal(Object.keys((await store.read()).holders).length, 20);
  });

  it('refuses a corrupt state file with Invalid instead of starting empty', async () => {
    const root = await tempRoot();
    const store = await open(root);
    await writeFile(join(root, 'state', 'images.json'), '{"version":1,"images":{"x":{}}}');
    await assert.rejects(store.read(), isInvalid);
  });
});

describe('image store lock', () => {
  it('lets two services on one root (hyperctl beside the daemon) write at once without losing an update', async () => {
    // Each ImageStore has its own in-process queue, as two processes would: only the lock
    // directory keeps their read-modify-write cycles apart.
    const root = await tempRoot();
    const daemon = await open(root);
    const cli = await open(root);
    await Promise.all(
      Array.from({ length: 15 }, (_, i) => [
        addHolder(daemon, `daemon-${i}`, i),
        addHolder(cli, `cli-${i}`, i),
      ]).flat(),
    );
    const holders = Object.keys((await (await open(root)).read()).holders).sort();
    assert.deepEqual(
      holders,
      [...Array.from({ length: 15 }, (_, i) => [`cli-${i}`, `daemon-${i}`]).flat()].sort(),
    );
    assert.equal(await lockExists(root), false, 'the lock is released after the last write');
    // the document on disk is whole JSON, not two writes interleaved
    JSON.parse(await readFile(join(root, 'state', 'images.json'), 'utf8'));
  });

  it('waits while a live process holds the lock and writes as soon as it is released', async () => {
    const root = await tempRoot();
    const clock = new ManualClock();
    const store = await open(root, { clock });
    await holdLock(root, process.ppid); // alive, and not us
    let settled = false;
    const p = addHolder(store, 'waiting', 1).finally(() => (settled = true));
    await waitFor(() => clock.pendingTimers > 0, { timeoutMs: 10_000, description: 'the writer to wait' });
    clock.advance(1000);
    await waitFor(() => clock.pendingTimers > 0, {
      timeoutMs: 10_000,
      description: 'the writer to wait again',
    });
    assert.equal(settled, false, 'the writer does not write under a live holder');
    assert.deepEqual((await store.read()).holders, {});

    await rm(join(root, 'state', 'lock.d'), { recursive: true });
    clock.advance(1000);
    await p;
    assert.deepEqual(Object.keys((await store.read()).holders), ['waiting']);
    assert.equal(await lockExists(root), false);
  });

  it('gives up with Timeout when a live holder keeps the lock, leaving the state as it was', async () => {
    const root = await tempRoot();
    const clock = new ManualClock();
    const store = await open(root, { clock, lockTimeoutMs: 5000 });
    await holdLock(root, process.ppid);
    let outcome: unknown;
    const p = addHolder(store, 'never', 1).then(
      () => (outcome = 'written'),
      (err: unknown) => (outcome = err),
    );
    while (outcome === undefined) {
      await waitFor(() => outcome !== undefined || clock.pendingTimers > 0, {
        timeoutMs: 10_000,
        description: 'the writer to wait or give up',
      });
      clock.advance(250);
    }
    await p;
    assert.ok(isTimeout(outcome), `want Timeout, got ${String(outcome)}`);
    assert.match((outcome as Error).message, new RegExp(`held by process ${process.ppid}`));
    assert.deepEqual((await store.read()).holders, {});
    assert.equal(await lockExists(root), true, "the live holder's lock is left alone");
  });

  it('breaks a lock left by a dead process, or by a writer that died before writing its pid', async () => {
    const root = await tempRoot();
    const store = await open(root);
    await holdLock(root, 999_999_999); // above pid_max: no such process
    await addHolder(store, 'after-dead-pid', 1);
    assert.deepEqual(Object.keys((await store.read()).holders), ['after-dead-pid']);
    assert.equal(await lockExists(root), false);

    await holdLock(root, undefined); // mkdir done, pid never written
    const old = new Date(Date.now() - 60_000);
    await utimes(join(root, 'state', 'lock.d'), old, old);
    await addHolder(store, 'after-no-pid', 2);
    assert.deepEqual(Object.keys((await store.read()).holders).sort(), ['after-dead-pid', 'after-no-pid']);
    assert.equal(await lockExists(root), false);
  });
});
