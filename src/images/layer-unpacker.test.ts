import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile, findH8sError, isInvalid, nullLogger } from '../lib/index.js';
import { buildTar, encodeTarHeader, type TarWriteHeader } from './tar-format.js';
import { unpackLayer, type UnpackMode } from './layer-unpacker.js';
import { createUnpackBudget, unpackBudgetUsed, type UnpackBudget } from './unpack-budget.js';

const tmps: string[] = [];
after(async () => {
  for (const t of tmps) await rm(t, { recursive: true, force: true });
});

async function fresh(): Promise<{ dir: string; root: string; outside: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'h8s-unpack-'));
  tmps.push(dir);
  const root = join(dir, 'root');
  const outside = join(dir, 'outside');
  await mkdir(root);
  await mkdir(outside);
  return { dir, root, outside };
}

type E = { header: TarWriteHeader; data?: Buffer };
const f = (name: string, data = 'x', extra: Partial<TarWriteHeader> = {}): E => ({
  header: { name, type: 'file', ...extra },
  data: Buffer.from(data),
});
const d = (name: string, extra: Partial<TarWriteHeader> = {}): E => ({
  header: { name, type: 'directory', ...extra },
});
const sl = (name: string, linkname: string): E => ({ header: { name, type: 'symlink', linkname } });
const hl = (name: string, linkname: string): E => ({ header: { name, type: 'hardlink', linkname } });

async function apply(
  root: string,
  entries: E[],
  mode: UnpackMode = 'merge',
  deviceNodes: 'skip' | 'create' = 'skip',
) {
  return unpackLayer([buildTar(entries)], root, { mode, log: nullLogger, deviceNodes, what: 'test layer' });
}

async function listAll(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).sort();
}

describe('layer unpacker against malicious layers', { concurrency: 1 }, () => {
  it('refuses "../" path traversal and writes nothing outside', async () => {
    const t = await fresh();
    await assert.rejects(
      apply(t.root, [f('../outside/pwned')]),
      (err) => isInvalid(err) && /contains "\.\."/.test((err as Error).message),
    );
    await assert.rejects(apply(t.root, [f('a/../../outside/pwned')]), isInvalid);
    assert.deepEqual(await listAll(t.outside), []);
  });

  it('refuses absolute entry names', async () => {
    const t = await fresh();
    await assert.rejects(
      apply(t.root, [f(join(t.outside, 'pwned'))]),
      (err) => isInvalid(err) && /absolute path/.test((err as Error).message),
    );
    assert.deepEqual(await listAll(t.outside), []);
  });

  it('refuses to write through a symlink that climbs out of the root', async () => {
    const t = await fresh();
    await assert.rejects(
      apply(t.root, [sl('escape', '../outside'), f('escape/pwned')]),
      (err) => isInvalid(err) && /symlink that points outside the root/.test((err as Error).message),
    );
    await assert.rejects(apply(t.root, [sl('deep', 'a/../../../../outside'), f('deep/pwned')]), isInvalid);
    assert.deepEqual(await listAll(t.outside), []);
  });

  it("keeps writes through an absolute symlink inside the root (the image's own /)", async () => {
    const t = await fresh();
    await apply(t.root, [sl('evil', t.outside), f('evil/pwned', 'gotcha')]);
    assert.deepEqual(await listAll(t.outside), []);
    assert.equal(await readFile(join(t.root, t.outside.slice(1), 'pwned'), 'utf8'), 'gotcha');
  });

  it('replaces a symlink at the final component instead of following it', async () => {
    const t = await fresh();
    await apply(t.root, [sl('passwd', join(t.outside, 'target')), f('passwd', 'new')]);
    assert.deepEqual(await listAll(t.outside), []);
    assert.equal((await lstat(join(t.root, 'passwd'))).isFile(), true);
  });

  it('refuses hard links to paths outside the root', async () => {
    const t = await fresh();
    await import('node:fs/promises').then((fs) => fs.writeFile(join(t.outside, 'secret'), 'host secret'));
    await assert.rejects(apply(t.root, [hl('stolen', '../outside/secret')]), isInvalid);
    await assert.rejects(apply(t.root, [hl('stolen', join(t.outside, 'secret'))]), isInvalid);
    // and through a symlinked directory that escapes
    await assert.rejects(apply(t.root, [sl('up', '..'), hl('stolen', 'up/outside/secret')]), isInvalid);
    assert.equal((await stat(join(t.outside, 'secret'))).nlink, 1);
  });

  it('skips device nodes by default and creates whiteouts in overlay mode', async () => {
    const t = await fresh();
    const stats = await apply(
      t.root,
      [
        { header: { name: 'sda', type: 'block', devmajor: 8, devminor: 0, mode: 0o666 } },
        { header: { name: 'mem', type: 'char', devmajor: 1, devminor: 1 } },
        f('.wh.gone'),
        { header: { name: 'pipe', type: 'fifo', mode: 0o600 } },
      ],
      'overlay',
    );
    assert.equal(stats.skippedDevices, 2);
    await assert.rejects(lstat(join(t.root, 'sda')));
    await assert.rejects(lstat(join(t.root, 'mem')));
    const wh = await lstat(join(t.root, 'gone'));
    assert.equal(wh.isCharacterDevice(), true);
    assert.equal(wh.rdev, 0);
    assert.equal((await lstat(join(t.root, 'pipe'))).isFIFO(), true);
  });

  it('creates device nodes only when the policy says so', async () => {
    const t = await fresh();
    await apply(
      t.root,
      [{ header: { name: 'null', type: 'char', devmajor: 1, devminor: 3, mode: 0o666 } }],
      'merge',
      'create',
    );
    const st = await lstat(join(t.root, 'null'));
    assert.equal(st.isCharacterDevice(), true);
    assert.equal(st.mode & 0o777, 0o666);
  });

  it('drops xattrs that could steer overlayfs and keeps user and capability xattrs', async () => {
    const t = await fresh();
    await apply(
      t.root,
      [
        d('dir', {
          xattrs: new Map([
            ['trusted.overlay.redirect', Buffer.from('/etc')],
            ['user.note', Buffer.from('hi')],
          ]),
        }),
        f('dir/ping', 'elf', {
          mode: 0o755,
          xattrs: new Map([
            ['security.capability', Buffer.from('0100000200200000000000000000000000000000', 'hex')],
          ]),
        }),
      ],
      'overlay',
    );
    const attrs = (
      await execFile([
        'getfattr',
        '-d',
        '-m',
        '-',
        '--absolute-names',
        join(t.root, 'dir'),
        join(t.root, 'dir/ping'),
      ])
    ).stdout;
    assert.match(attrs, /user\.note="hi"/);
    assert.match(attrs, /security\.capability=/);
    assert.doesNotMatch(attrs, /overlay/);
  });
});

describe('layer unpacker semantics', { concurrency: 1 }, () => {
  it('keeps modes, ownership, setuid bits, hard links and symlinks', async () => {
    const t = await fresh();
    await apply(t.root, [
      d('bin'),
      f('bin/su', 'su', { mode: 0o4755, uid: 0, gid: 0 }),
      f('home/app/data', 'd', { uid: 1000, gid: 1001, mode: 0o600 }),
      hl('bin/su2', 'bin/su'),
      sl('bin/sh', 'su'),
      d('tmp', { mode: 0o1777 }),
    ]);
    const su = await stat(join(t.root, 'bin/su'));
    assert.equal(su.mode & 0o7777, 0o4755);
    assert.equal(su.nlink, 2);
    const data = await stat(join(t.root, 'home/app/data'));
    assert.deepEqual([data.uid, data.gid, data.mode & 0o777], [1000, 1001, 0o600]);
    assert.equal(await readlink(join(t.root, 'bin/sh')), 'su');
    assert.equal((await stat(join(t.root, 'tmp'))).mode & 0o7777, 0o1777);
  });

  it('applies whiteouts and opaque directories in merge mode', async () => {
    const t = await fresh();
    await apply(t.root, [
      d('a'),
      f('a/one'),
      f('a/two'),
      d('opq'),
      f('opq/old'),
      d('opq/sub'),
      f('opq/sub/older'),
    ]);
    await apply(t.root, [f('a/.wh.one'), d('opq'), f('opq/new'), f('opq/.wh..wh..opq')]);
    assert.deepEqual(await listAll(t.root), ['a', 'a/two', 'opq', 'opq/new']);
  });

  it('marks opaque directories for overlayfs in overlay mode', async () => {
    const t = await fresh();
    await apply(t.root, [d('opq'), f('opq/.wh..wh..opq'), f('opq/new')], 'overlay');
    const attrs = (
      await execFile(['getfattr', '-n', 'trusted.overlay.opaque', '--absolute-names', join(t.root, 'opq')])
    ).stdout;
    assert.match(attrs, /trusted\.overlay\.opaque="y"/);
    assert.deepEqual(await listAll(t.root), ['opq', 'opq/new']);
  });

  it('replaces a directory with a file and a file with a directory, as tar does', async () => {
    const t = await fresh();
    await apply(t.root, [d('x'), f('x/inner'), f('y')]);
    await apply(t.root, [f('x', 'now a file'), d('y'), f('y/inside')]);
    assert.equal(await readFile(join(t.root, 'x'), 'utf8'), 'now a file');
    assert.equal((await stat(join(t.root, 'y'))).isDirectory(), true);
  });

  it('leaves no chown or chmod undone where it skips them: setgid parents, umask, special bits', async () => {
    const t = await fresh();
    await apply(
      t.root,
      [
        d('shared', { mode: 0o2775, uid: 0, gid: 4321 }),
        f('shared/root-file', 'r', { mode: 0o644, uid: 0, gid: 0 }), // would inherit gid 4321
        d('shared/sub', { mode: 0o755, uid: 0, gid: 0 }), // would inherit gid 4321 and setgid
        f('shared/implicit/deep', 'x', { mode: 0o644 }), // parent created implicitly under setgid
        f('open', 'o', { mode: 0o666 }), // the umask (022) would mask group and other write
        d('wide', { mode: 0o777 }),
        f('sgid-bin', 's', { mode: 0o2755 }),
        f('plain', 'p', { mode: 0o640, mtimeMs: 1_600_000_000_000 }),
      ],
      'overlay',
    );
    const st = async (p: string) => stat(join(t.root, p));
    assert.deepEqual([(await st('shared')).gid, (await st('shared')).mode & 0o7777], [4321, 0o2775]);
    assert.equal((await st('shared/root-file')).gid, 0);
    assert.equal((await st('shared/sub')).gid, 0);
    assert.equal((await st('shared/sub')).mode & 0o7777, 0o755);
    assert.equal((await st('shared/implicit/deep')).gid, 0);
    assert.equal((await st('open')).mode & 0o7777, 0o666);
    assert.equal((await st('wide')).mode & 0o7777, 0o777);
    assert.equal((await st('sgid-bin')).mode & 0o7777, 0o2755);
    assert.equal((await st('plain')).mode & 0o7777, 0o640);
    assert.equal((await st('plain')).mtimeMs, 1_600_000_000_000);
  });

  it('orders entries that touch files still being created (many small files at once)', async () => {
    const t = await fresh();
    const many = Array.from({ length: 100 }, (_, i) => f(`d/f${i}`, `v1-${i}`));
    await apply(t.root, [
      d('d'),
      ...many,
      f('d/f7', 'replaced'), // a later entry for the same path wins
      hl('d/link', 'd/f8'), // a hard link to a file created just before
      sl('d/f9', 'f8'), // a symlink replacing a file
      f('d/.wh.f10'), // a whiteout of one (merge mode: deletes it)
    ]);
    assert.equal(await readFile(join(t.root, 'd/f7'), 'utf8'), 'replaced');
    assert.equal((await stat(join(t.root, 'd/link'))).nlink, 2);
    assert.equal(await readlink(join(t.root, 'd/f9')), 'f8');
    await assert.rejects(stat(join(t.root, 'd/f10')), /ENOENT/);
    assert.equal(await readFile(join(t.root, 'd/f99'), 'utf8'), 'v1-99');
    // a file that a later entry needs as a directory is refused as before
    const u = await fresh();
    await assert.rejects(
      apply(u.root, [d('x'), f('x/a'), f('x/a/b')], 'overlay'),
      (err) => isInvalid(err) && /needs "x\/a" to be a directory/.test((err as Error).message),
    );
  });
});

describe('layer unpacker within the limits of an image', { concurrency: 1 }, () => {
  const MiB = 1024 * 1024;
  const zeros = (name: string, bytes: number): E => ({
    header: { name, type: 'file' },
    data: Buffer.alloc(bytes),
  });
  const budgeted = (root: string, entries: E[] | Buffer[], budget: UnpackBudget, what = 'layer "test"') =>
    unpackLayer(Buffer.isBuffer(entries[0]) ? (entries as Buffer[]) : [buildTar(entries as E[])], root, {
      mode: 'overlay',
      log: nullLogger,
      what,
      budget,
    });
  const tooLarge = (re: RegExp) => (err: unknown) =>
    findH8sError(err)?.code === 'RequestEntityTooLarge' && re.test((err as Error).message);

  it('refuses a file whose header declares more than the limit before writing any of it', async () => {
    const t = await fresh();
    const budget = createUnpackBudget('image "zeros:v1"', { maxBytes: 4 * MiB, maxEntries: 100 });
    // a header that claims 20 GiB, followed by a few blocks: read only up to the header
    const head = encodeTarHeader({ name: 'huge', type: 'file', size: 20 * 1024 * MiB });
    await assert.rejects(
      budgeted(t.root, [Buffer.concat([head, Buffer.alloc(4096)])], budget),
      tooLarge(
        /^Refusing image "zeros:v1": layer "test" takes it past the limit of 4 MiB \(4194304 bytes\) of unpacked files; raise the image service's maxUnpackedBytes/,
      ),
    );
    assert.deepEqual(await listAll(t.root), []);
    assert.deepEqual(unpackBudgetUsed(budget), { bytes: 0, entries: 0 });
  });

  it('counts file bytes as the stream is read, across the layers of one image, and gives back a failed layer', async () => {
    const budget = createUnpackBudget('image "app:v1"', { maxBytes: 5 * MiB, maxEntries: 1000 });
    const a = await fresh();
    const stats = await budgeted(
      a.root,
      [d('a'), zeros('a/1', 2 * MiB), zeros('a/2', MiB)],
      budget,
      'layer "one"',
    );
    assert.equal(stats.bytes, 3 * MiB);
    assert.deepEqual(unpackBudgetUsed(budget), { bytes: 3 * MiB, entries: 3 });
    // the second layer passes the limit at its second file: refused there, its first file written
    const b = await fresh();
    await assert.rejects(
      budgeted(b.root, [zeros('b1', MiB), zeros('b2', 2 * MiB), zeros('b3', 1)], budget, 'layer "two"'),
      tooLarge(/layer "two" takes it past the limit of 5 MiB/),
    );
    assert.deepEqual(await listAll(b.root), ['b1'], 'it stopped at the file that passed the limit');
    assert.deepEqual(
      unpackBudgetUsed(budget),
      { bytes: 3 * MiB, entries: 3 },
      'the failed layer gave back its charges',
    );
  });

  it('bounds the number of entries (inodes) of an image', async () => {
    const t = await fresh();
    const budget = createUnpackBudget('image "many:v1"', { maxBytes: MiB, maxEntries: 50 });
    await assert.rejects(
      budgeted(
        t.root,
        Array.from({ length: 80 }, (_, i) => f(`e${i}`, '')),
        budget,
      ),
      tooLarge(/past the limit of 50 unpacked entries .*maxUnpackedEntries/),
    );
    assert.equal((await readdir(t.root)).length, 50);
  });

  it('gets nothing big out of a sparse file: GNU sparse entries are refused, PAX ones are not expanded', async () => {
    const t = await fresh();
    // what `tar --sparse` makes of a 20 GiB file with 3 bytes of data
    await execFile(['truncate', '-s', '20G', join(t.dir, 'sparse')]);
    await execFile([
      'sh',
      '-c',
      'printf abc | dd of="$1" bs=1 seek=1000000 conv=notrunc 2>/dev/null',
      'sh',
      join(t.dir, 'sparse'),
    ]);
    const budget = createUnpackBudget('image "sparse:v1"', { maxBytes: 4 * MiB, maxEntries: 100 });
    const gnu = (await execFile(['tar', '--sparse', '-C', t.dir, '-cf', '-', 'sparse'])).stdoutBytes;
    await assert.rejects(
      budgeted(t.root, [gnu], budget),
      (err) => isInvalid(err) && /unsupported type "S"/.test((err as Error).message),
    );
    const u = await fresh();
    const pax = (await execFile(['tar', '--sparse', '--format=posix', '-C', t.dir, '-cf', '-', 'sparse']))
      .stdoutBytes;
    const stats = await budgeted(u.root, [pax], budget);
    assert.ok(stats.bytes < 64 * 1024, `the stored bytes only (${stats.bytes})`);
    assert.ok(unpackBudgetUsed(budget).bytes < 64 * 1024);
  });
});
