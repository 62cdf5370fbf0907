import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isConflict, isUnavailable } from '../lib/index.js';
import { AddressPool } from './address-pool.js';

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'h8s-pool-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const veth = { kind: 'veth' as const, hostPorts: [] };

describe('AddressPool', () => {
  it('gives the gateway the first address and pods the following ones, once each', () =>
    withDir(async (dir) => {
      const pool = await AddressPool.open(join(dir, 'a.json'), '10.42.3.0/24');
      assert.equal(pool.gateway, '10.42.3.1');
      const a = await pool.allocate('uid-a', veth);
      const b = await pool.allocate('uid-b', veth);
      assert.equal(a.ip, '10.42.3.2');
      assert.equal(b.ip, '10.42.3.3');
      assert.equal((await pool.allocate('uid-a', veth)).ip, '10.42.3.2', 'allocate is idempotent');
    }));

  it('never gives one address to two pods when allocations race', () =>
    withDir(async (dir) => {
      const pool = await AddressPool.open(join(dir, 'a.json'), '10.42.3.0/24');
      const all = await Promise.all(Array.from({ length: 50 }, (_, i) => pool.allocate(`uid-${i}`, veth)));
      assert.equal(new Set(all.map((a) => a.ip)).size, 50);
    }));

  it('keeps allocations and the round-robin position across a restart; a freed address is not given next', () =>
    withDir(async (dir) => {
      const file = join(dir, 'a.json');
      const pool = await AddressPool.open(file, '10.42.3.0/24');
      await pool.allocate('uid-a', veth);
      await pool.allocate('uid-b', {
        kind: 'tap',
        hostPorts: [{ protocol: 'TCP', hostPort: 80, containerPort: 8080 }],
      });
      const again = await AddressPool.open(file, '10.42.3.0/24');
      assert.equal(again.find('uid-b')?.ip, '10.42.3.3');
      assert.equal(again.find('uid-b')?.kind, 'tap');
      assert.deepEqual(again.find('uid-b')?.hostPorts, [
        { protocol: 'TCP', hostPort: 80, containerPort: 8080 },
      ]);
      assert.equal((await again.release('uid-a'))?.ip, '10.42.3.2');
      assert.equal(await again.release('uid-a'), undefined, 'release is idempotent');
      // round robin: the next address after the last one given, not the one just freed
      assert.equal((await again.allocate('uid-c', veth)).ip, '10.42.3.4');
      const onDisk = JSON.parse(await readFile(file, 'utf8')) as { allocations: unknown[]; lastIp: string };
      assert.equal(onDisk.allocations.length, 2);
      assert.equal(onDisk.lastIp, '10.42.3.4', 'the round-robin position survives a restart');
    }));

  it('wraps around to the addresses freed before, once the end of the block is reached', () =>
    withDir(async (dir) => {
      const pool = await AddressPool.open(join(dir, 'a.json'), '10.42.3.0/29');
      const ips: string[] = [];
      for (const o of ['a', 'b', 'c', 'd', 'e']) ips.push((await pool.allocate(o, veth)).ip);
      assert.deepEqual(ips, ['10.42.3.2', '10.42.3.3', '10.42.3.4', '10.42.3.5', '10.42.3.6']);
      await pool.release('b');
      assert.equal((await pool.allocate('f', veth)).ip, '10.42.3.3');
    }));

  it('answers ServiceUnavailable when the block is full', () =>
    withDir(async (dir) => {
      const pool = await AddressPool.open(join(dir, 'a.json'), '10.42.3.0/30');
      assert.equal((await pool.allocate('uid-a', veth)).ip, '10.42.3.2');
      await assert.rejects(pool.allocate('uid-b', veth), (err) => isUnavailable(err));
    }));

  it('refuses a file of another block, and a corrupt file', () =>
    withDir(async (dir) => {
      const file = join(dir, 'a.json');
      const pool = await AddressPool.open(file, '10.42.3.0/24');
      await pool.allocate('uid-a', veth);
      await assert.rejects(AddressPool.open(file, '10.42.4.0/24'), (err) => isConflict(err));
      await writeFile(file, '{"schema":1,"block":"10.42.3.0/24","allocations":[{"owner":5}]}');
      await assert.rejects(AddressPool.open(file, '10.42.3.0/24'), /Invalid address pool/);
    }));
});
