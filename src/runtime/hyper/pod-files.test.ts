import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errorCode } from '../../lib/index.js';
import { podFilesLimits, podFilesVolumeId, readPodFiles, sendPodFiles } from './pod-files.js';

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'h8s-podfiles-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** kubelet's layout: `..g1/<files>`, `..data -> ..g1`, top-level names -> `..data/<name>`. */
async function atomicLayout(dir: string, files: Record<string, string>): Promise<void> {
  for (const [p, text] of Object.entries(files)) {
    await mkdir(join(dir, '..g1', p, '..'), { recursive: true });
    await writeFile(join(dir, '..g1', p), text);
  }
  await symlink('..g1', join(dir, '..data'));
  for (const n of new Set(Object.keys(files).map((p) => p.split('/')[0] as string)))
    await symlink(`..data/${n}`, join(dir, n));
}

describe('pod files for VM pods (ADR 0008)', () => {
  it('reads the generation ..data points at, with modes, nested files and the visible names', async () => {
    await withDir(async (dir) => {
      await atomicLayout(dir, { 'ca.crt': 'PEM', token: 'jwt', 'conf/app.yaml': 'a: 1' });
      const gen = await readPodFiles(dir);
      assert.equal(gen.generation, '..g1');
      assert.deepEqual(
        gen.files.map((f) => [f.path, f.data.toString()]),
        [
          ['ca.crt', 'PEM'],
          ['conf/app.yaml', 'a: 1'],
          ['token', 'jwt'],
        ],
      );
      assert.deepEqual(gen.names, ['ca.crt', 'conf', 'token']);
      assert.equal(gen.files[0]?.mode, 0o644);
    });
  });

  it('refuses a symlink inside a generation (nothing is followed out of the volume)', async () => {
    await withDir(async (dir) => {
      await atomicLayout(dir, { key: 'v' });
      await symlink('/etc/shadow', join(dir, '..g1', 'evil'));
      await assert.rejects(readPodFiles(dir), (err: unknown) => {
        assert.equal(errorCode(err), 'Invalid');
        assert.match(String(err), /evil" is not a regular file/);
        return true;
      });
    });
  });

  it('refuses a ..data that points outside the volume', async () => {
    await withDir(async (dir) => {
      await symlink('/etc', join(dir, '..data'));
      await assert.rejects(readPodFiles(dir), /must name a generation directory/);
    });
  });

  it('refuses a volume over the size bound with Invalid', async () => {
    await withDir(async (dir) => {
      await mkdir(join(dir, '..g1'));
      await writeFile(join(dir, '..g1', 'big'), Buffer.alloc(podFilesLimits.maxBytes + 1));
      await symlink('..g1', join(dir, '..data'));
      await assert.rejects(readPodFiles(dir), (err: unknown) => {
        assert.equal(errorCode(err), 'Invalid');
        assert.match(String(err), /too large for a VM pod: more than 16 MiB/);
        return true;
      });
    });
  });

  it('sends a file in chunks under the frame size, then commits the names, with a fresh generation each time', async () => {
    const calls: { op: string; body: Record<string, unknown> }[] = [];
    const request = (op: string, body: Record<string, unknown>): Promise<unknown> => {
      calls.push({ op, body });
      return Promise.resolve({});
    };
    const data = Buffer.alloc(400 * 1024, 7);
    const volume = podFilesVolumeId('/var/lib/h8s/agent/pods/u/volumes/configmap/cfg');
    await sendPodFiles(request, volume, {
      generation: '..g1',
      files: [{ path: 'blob', mode: 0o600, data }],
      names: ['blob'],
    });
    const writes = calls.filter((c) => c.op === 'writeFiles');
    assert.equal(writes.length, 3);
    assert.deepEqual(
      writes.map((w) => w.body.append),
      [false, true, true],
    );
    for (const w of writes) assert.ok(String(w.body.data).length < 256 * 1024 - 1024);
    const joined = Buffer.concat(writes.map((w) => Buffer.from(String(w.body.data), 'base64')));
    assert.ok(joined.equals(data));
    assert.deepEqual(calls.at(-1), {
      op: 'commitFiles',
      body: { volume, generation: writes[0]?.body.generation, names: ['blob'] },
    });
    await sendPodFiles(request, volume, { generation: '', files: [], names: [] });
    assert.notEqual(calls.at(-1)?.body.generation, writes[0]?.body.generation);
    assert.match(volume, /^f[0-9a-f]{24}$/);
  });
});
