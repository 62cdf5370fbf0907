import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canBalloon, deflate, rebalance } from './balloon.js';
import type { VmSession } from './vm-session.js';

const MiB = 1024 * 1024;

/** A session whose agent reports `freeMiB` and whose QEMU has `actualMiB` of 128 MiB. */
function fakeSession(o: { freeMiB: number; actualMiB: number; caps?: string[] }) {
  const calls: { targets: number[]; requests: Record<string, unknown>[] } = { targets: [], requests: [] };
  let actual = o.actualMiB * MiB;
  const s = {
    conn: {
      hello: { capabilities: o.caps ?? ['exec', 'meminfo'] },
      request: async (op: string, body: Record<string, unknown>) => {
        calls.requests.push({ op, ...body });
        return { ok: true, totalKiB: 94 * 1024, freeKiB: o.freeMiB * 1024, availableKiB: o.freeMiB * 1024 };
      },
    },
    vm: {
      facts: { memoryMiB: 128 },
      balloonActualBytes: async () => actual,
      setBalloonTarget: async (bytes: number) => {
        calls.targets.push(bytes);
        actual = bytes;
      },
    },
  };
  return { s: s as unknown as VmSession, calls };
}

test('balloon: an idle guest keeps its headroom free and gives the rest to the host', async () => {
  const { s, calls } = fakeSession({ freeMiB: 60, actualMiB: 128 });
  const r = await rebalance(s, { headroomMiB: 12 }, { reclaim: true });
  assert.deepEqual(r, { beforeBytes: 128 * MiB, targetBytes: 80 * MiB, freeBytes: 60 * MiB });
  assert.deepEqual(calls.targets, [80 * MiB]);
  assert.deepEqual(calls.requests, [{ op: 'memInfo', reclaim: true }]);
});

test('balloon: a guest short of free memory gets pages back, never more than its RAM', async () => {
  const low = fakeSession({ freeMiB: 2, actualMiB: 80 });
  assert.equal((await rebalance(low.s, { headroomMiB: 12 }, { reclaim: false }))?.targetBytes, 90 * MiB);
  const full = fakeSession({ freeMiB: 0, actualMiB: 126 });
  assert.equal((await rebalance(full.s, { headroomMiB: 12 }, { reclaim: false }))?.targetBytes, 128 * MiB);
});

test('balloon: small changes are skipped; agents without meminfo are left alone', async () => {
  const near = fakeSession({ freeMiB: 13, actualMiB: 80 });
  const r = await rebalance(near.s, { headroomMiB: 12 }, { reclaim: false });
  assert.equal(r?.targetBytes, 80 * MiB);
  assert.deepEqual(near.calls.targets, []);
  const old = fakeSession({ freeMiB: 60, actualMiB: 128, caps: ['exec'] });
  assert.equal(canBalloon(old.s), false);
  assert.equal(await rebalance(old.s, { headroomMiB: 12 }, { reclaim: true }), undefined);
  await deflate(old.s);
  assert.deepEqual(old.calls.targets, []);
  assert.deepEqual(old.calls.requests, []);
});

test('balloon: deflate gives a pooled VM all its RAM back', async () => {
  const { s, calls } = fakeSession({ freeMiB: 12, actualMiB: 80 });
  await deflate(s);
  assert.deepEqual(calls.targets, [128 * MiB]);
});
