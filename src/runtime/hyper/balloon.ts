/**
 * The idle-memory balloon (the Kata/hyperd lever; docs/hyper-runtime.md "Memory levers").
 *
 * Free page reporting already returns free guest memory in whole 128 KiB blocks. What it
 * cannot return are free pages in smaller fragments and clean caches. `rebalance` asks the
 * agent for the guest's free memory (after dropping clean caches and compacting, when
 * `reclaim`), then sets the virtio-balloon target so the guest keeps `headroom` free: the
 * balloon takes the rest, QEMU discards those pages, and the host's PSS of the VM drops.
 * The balloon is `deflate-on-oom`: a guest that runs out of memory takes pages back from it
 * before its OOM killer runs, and the next rebalance deflates it further, so a pod can still
 * use all of its memory.
 *
 * Invariant: the target never goes below what the guest uses now plus the headroom, so the
 * guest's balloon driver never spins on a target it cannot reach.
 */
import type { VmSession } from './vm-session.js';

const MiB = 1024 * 1024;

export interface BalloonPolicy {
  /** Free guest memory the balloon leaves (MiB). */
  readonly headroomMiB: number;
}

export interface BalloonResult {
  /** Guest RAM before and after (bytes); equal when nothing changed. */
  readonly beforeBytes: number;
  readonly targetBytes: number;
  readonly freeBytes: number;
}

/** True when the VM's agent can report its memory (older agents cannot: no balloon then). */
export function canBalloon(s: VmSession): boolean {
  try {
    return s.conn.hello.capabilities.includes('meminfo');
  } catch {
    return false;
  }
}

/**
 * Moves the balloon so the guest keeps `headroomMiB` free. Changes below 2 MiB are skipped.
 * @throws what the agent request or QMP throws (callers of the periodic loop log and go on)
 */
export async function rebalance(
  s: VmSession,
  policy: BalloonPolicy,
  options: { reclaim: boolean },
): Promise<BalloonResult | undefined> {
  if (!canBalloon(s)) return undefined;
  const info = await s.conn.request('memInfo', { reclaim: options.reclaim }, 15_000);
  const freeKiB = info['freeKiB'];
  if (typeof freeKiB !== 'number' || !Number.isFinite(freeKiB) || freeKiB < 0) return undefined;
  const freeBytes = freeKiB * 1024;
  const actual = await s.vm.balloonActualBytes();
  const target = actual - (freeBytes - policy.headroomMiB * MiB);
  const ram = s.vm.facts.memoryMiB * MiB;
  const clamped = Math.min(ram, Math.max(0, target));
  if (Math.abs(clamped - actual) < 2 * MiB) return { beforeBytes: actual, targetBytes: actual, freeBytes };
  await s.vm.setBalloonTarget(clamped);
  return { beforeBytes: actual, targetBytes: clamped, freeBytes };
}

/** Gives the guest all of its RAM back (a pooled VM handed to a pod). */
export async function deflate(s: VmSession): Promise<void> {
  if (!canBalloon(s)) return;
  await s.vm.setBalloonTarget(s.vm.facts.memoryMiB * MiB);
}
