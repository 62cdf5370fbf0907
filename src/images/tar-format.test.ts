import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isInvalid } from '../lib/index.js';
import { buildTar, encodeTarHeader, readTar, tarTrailer, type TarHeader } from './tar-format.js';

async function* chunksOf(buf: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

async function readAll(buf: Buffer, chunk = 97): Promise<{ header: TarHeader; data: Buffer }[]> {
  const out: { header: TarHeader; data: Buffer }[] = [];
  for await (const e of readTar(chunksOf(buf, chunk))) {
    const parts: Buffer[] = [];
    for await (const c of e.body) parts.push(c);
    out.push({ header: e.header, data: Buffer.concat(parts) });
  }
  return out;
}

describe('tar reader and writer', () => {
  it('round-trips files, links, long names, big ids and xattrs through odd chunk sizes', async () => {
    const long = 'd/'.repeat(80) + 'file-with-a-long-name';
    const tar = buildTar([
      { header: { name: 'dir', type: 'directory', mode: 0o1777 } },
      {
        header: { name: 'dir/a', type: 'file', mode: 0o4755, uid: 3_000_000, gid: 7 },
        data: Buffer.from('hello'),
      },
      { header: { name: long, type: 'file' }, data: Buffer.alloc(1500, 1) },
      { header: { name: 'ln', type: 'symlink', linkname: 'x/'.repeat(70) } },
      { header: { name: 'hl', type: 'hardlink', linkname: 'dir/a' } },
      { header: { name: 'dev', type: 'char', devmajor: 1, devminor: 3 } },
      {
        header: {
          name: 'cap',
          type: 'file',
          xattrs: new Map([['security.capability', Buffer.from([1, 0, 0, 2])]]),
        },
        data: Buffer.from('x'),
      },
    ]);
    const got = await readAll(tar);
    assert.deepEqual(
      got.map((g) => [g.header.name, g.header.type]),
      [
        ['dir/', 'directory'],
        ['dir/a', 'file'],
        [long, 'file'],
        ['ln', 'symlink'],
        ['hl', 'hardlink'],
        ['dev', 'char'],
        ['cap', 'file'],
      ],
    );
    assert.equal(got[0]!.header.mode, 0o1777);
    assert.equal(got[1]!.header.mode, 0o4755);
    assert.equal(got[1]!.header.uid, 3_000_000);
    assert.equal(got[1]!.data.toString(), 'hello');
    assert.equal(got[2]!.data.length, 1500);
    assert.equal(got[3]!.header.linkname, 'x/'.repeat(70));
    assert.equal(got[5]!.header.devminor, 3);
    assert.deepEqual([...got[6]!.header.xattrs.get('security.capability')!], [1, 0, 0, 2]);
  });

  it('skips bodies the consumer does not read', async () => {
    const tar = buildTar([
      { header: { name: 'a', type: 'file' }, data: Buffer.alloc(2000, 7) },
      { header: { name: 'b', type: 'file' }, data: Buffer.from('b') },
    ]);
    const names: string[] = [];
    for await (const e of readTar(chunksOf(tar, 300))) names.push(e.header.name);
    assert.deepEqual(names, ['a', 'b']);
  });

  it('rejects a corrupted header checksum', async () => {
    const tar = buildTar([{ header: { name: 'a', type: 'file' }, data: Buffer.from('a') }]);
    tar[10] = 0x41;
    await assert.rejects(readAll(tar), (err) => isInvalid(err) && /checksum/.test((err as Error).message));
  });

  it('rejects an archive that ends inside an entry', async () => {
    const tar = buildTar([{ header: { name: 'a', type: 'file' }, data: Buffer.alloc(5000) }]);
    await assert.rejects(
      readAll(tar.subarray(0, 2048)),
      (err) => isInvalid(err) && /ends inside/.test((err as Error).message),
    );
  });

  it('rejects huge PAX headers and names without buffering them', async () => {
    const huge = Buffer.concat([
      encodeTarHeader({ name: 'PaxHeaders/x', type: 'file', size: 64 * 1024 * 1024 }).subarray(0, 512),
    ]);
    huge.write('x', 156, 1, 'latin1');
    // fix the checksum after changing the type flag
    huge.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of huge) sum += b;
    huge.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1');
    await assert.rejects(
      readAll(Buffer.concat([huge, tarTrailer()])),
      (err) => isInvalid(err) && /PAX header/.test((err as Error).message),
    );
    const longName = buildTar([
      { header: { name: 'a/'.repeat(3000) + 'b', type: 'file' }, data: Buffer.from('') },
    ]);
    await assert.rejects(
      readAll(longName),
      (err) => isInvalid(err) && /longer than/.test((err as Error).message),
    );
  });

  it('rejects unsupported entry types by name', async () => {
    const tar = buildTar([{ header: { name: 'weird', type: 'file' }, data: Buffer.from('') }]);
    tar.write('S', 156, 1, 'latin1');
    tar.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of tar.subarray(0, 512)) sum += b;
    tar.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1');
    await assert.rejects(
      readAll(tar),
      (err) => isInvalid(err) && /unsupported type "S"/.test((err as Error).message),
    );
  });
});
