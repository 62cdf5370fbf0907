/**
 * Leader election over a LeaseLock, so several `h8s server` processes can run while only one
 * runs the controllers (client-go's leaderelection, same rules).
 *
 * Rules:
 * - A candidate takes the lease when nobody holds it (none, or released with an empty holder)
 *   or when the holder has not renewed it for `leaseDurationSeconds`, measured on the
 *   candidate's own monotonic clock from when it last saw the record change. Clock skew
 *   between servers therefore does not matter; only clock rates do.
 * - The leader renews every `retryPeriodMs`. If it cannot renew for `renewDeadlineMs` it
 *   stops leading: the signal given to `onStartedLeading` aborts. `renewDeadlineMs` must be
 *   below `leaseDurationMs`, so the old leader stops before anyone else may start.
 * - On shutdown (the `run` signal aborts) the leader waits for its work to stop, then releases
 *   the lease (empty holder) so another server takes over at once.
 */
import {
  badRequest,
  describeError,
  errorCode,
  nullLogger,
  systemClock,
  type Clock,
  type Logger,
} from '../lib/index.js';
import { toMicroTime, type LeaderElectionRecord, type LeaseLock, type ObservedLease } from './lease-lock.js';

export interface LeaderElectorOptions {
  readonly lock: LeaseLock;
  /** Unique per process, e.g. `<hostname>_<random>`. */
  readonly identity: string;
  /** Default 15 s. */
  readonly leaseDurationMs?: number | undefined;
  /** Default 10 s. */
  readonly renewDeadlineMs?: number | undefined;
  /** Default 2 s. */
  readonly retryPeriodMs?: number | undefined;
  readonly clock?: Clock | undefined;
  readonly log?: Logger | undefined;
  readonly random?: (() => number) | undefined;
  /** Runs while this process leads; must stop when `signal` aborts. */
  onStartedLeading(signal: AbortSignal): Promise<void> | void;
  /** Called after leading stopped (lease lost or shutdown) and the work has returned. */
  onStoppedLeading?: (() => void) | undefined;
  /** Called when the observed holder changes (including to this process). */
  onNewLeader?: ((identity: string) => void) | undefined;
}

export interface LeaderElector {
  /** Competes for the lease until `signal` aborts; resolves after releasing it. Never rejects. */
  run(signal: AbortSignal): Promise<void>;
  isLeader(): boolean;
  /** The holder last observed ('' when none). */
  leaderIdentity(): string;
}

export function createLeaderElector(options: LeaderElectorOptions): LeaderElector {
  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  const leaseDurationMs = options.leaseDurationMs ?? 15_000;
  const renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
  const retryPeriodMs = options.retryPeriodMs ?? 2_000;
  if (!(leaseDurationMs > renewDeadlineMs && renewDeadlineMs > retryPeriodMs && retryPeriodMs > 0)) {
    throw badRequest(
      `Leader election needs leaseDuration > renewDeadline > retryPeriod > 0 (got ${leaseDurationMs}, ${renewDeadlineMs}, ${retryPeriodMs} ms)`,
    );
  }
  if (options.identity === '') throw badRequest('Leader election needs a non-empty identity');
  const log = (options.log ?? nullLogger).child({
    component: 'leader-election',
    lease: options.lock.description,
  });
  const { lock, identity } = options;

  let observed: ObservedLease | undefined;
  let observedAtMs = 0;
  let leading = false;
  let lastHolder = '';

  const sameRecord = (a: LeaderElectionRecord, b: LeaderElectionRecord): boolean =>
    a.holderIdentity === b.holderIdentity &&
    a.renewTime === b.renewTime &&
    a.acquireTime === b.acquireTime &&
    a.leaseTransitions === b.leaseTransitions &&
    a.leaseDurationSeconds === b.leaseDurationSeconds;

  const observe = (lease: ObservedLease): void => {
    if (!observed || !sameRecord(observed.record, lease.record)) observedAtMs = clock.monotonicMs();
    observed = lease;
    if (lease.record.holderIdentity !== lastHolder) {
      lastHolder = lease.record.holderIdentity;
      if (lastHolder !== '') {
        log.info('New leader observed', { leader: lastHolder, isSelf: lastHolder === identity });
        options.onNewLeader?.(lastHolder);
      }
    }
  };

  /** One attempt to take or keep the lease. True when this process holds it afterwards. */
  async function tryAcquireOrRenew(signal: AbortSignal): Promise<boolean> {
    const nowIso = toMicroTime(clock.now());
    const desired: LeaderElectionRecord = {
      holderIdentity: identity,
      leaseDurationSeconds: Math.ceil(leaseDurationMs / 1000),
      acquireTime: nowIso,
      renewTime: nowIso,
      leaseTransitions: 0,
    };
    const current = await lock.get(signal);
    if (!current) {
      const resourceVersion = await lock.create(desired, signal);
      observe({ record: desired, resourceVersion });
      return true;
    }
    observe(current);
    const holder = current.record.holderIdentity;
    const expiresAtMs = observedAtMs + current.record.leaseDurationSeconds * 1000;
    if (holder !== '' && holder !== identity && expiresAtMs > clock.monotonicMs()) return false;
    const record: LeaderElectionRecord =
      holder === identity
        ? {
            ...desired,
            acquireTime: current.record.acquireTime,
            leaseTransitions: current.record.leaseTransitions,
          }
        : { ...desired, leaseTransitions: current.record.leaseTransitions + 1 };
    const resourceVersion = await lock.update(record, current.resourceVersion, signal);
    observe({ record, resourceVersion });
    return true;
  }

  const jittered = (ms: number): number => Math.round(ms * (1 + 0.2 * random()));

  async function attempt(signal: AbortSignal, timeoutMs: number): Promise<boolean> {
    // Bound each attempt so a hung request cannot outlive the renew deadline.
    const ac = new AbortController();
    const onAbort = (): void => ac.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    const timer = clock.setTimeout(() => ac.abort(new Error('Lease request timed out')), timeoutMs);
    try {
      return await tryAcquireOrRenew(ac.signal);
    } catch (err) {
      if (!signal.aborted) {
        // Conflicts and AlreadyExists are lost races, an expected outcome.
        const code = errorCode(err);
        const level = code === 'Conflict' || code === 'AlreadyExists' ? 'debug' : 'info';
        log[level]('Lease attempt failed', { error: describeError(err), code });
      }
      return false;
    } finally {
      timer.cancel();
      signal.removeEventListener('abort', onAbort);
    }
  }

  async function acquire(signal: AbortSignal): Promise<boolean> {
    for (;;) {
      if (signal.aborted) return false;
      if (await attempt(signal, renewDeadlineMs)) return true;
      try {
        await clock.sleep(jittered(retryPeriodMs), signal);
      } catch {
        return false;
      }
    }
  }

  /** Renews until the lease is lost (false) or `signal` aborts (true). */
  async function renew(signal: AbortSignal): Promise<boolean> {
    let lastRenewMs = clock.monotonicMs();
    for (;;) {
      try {
        await clock.sleep(retryPeriodMs, signal);
      } catch {
        return true;
      }
      const left = renewDeadlineMs - (clock.monotonicMs() - lastRenewMs);
      if (left > 0 && (await attempt(signal, left))) {
        lastRenewMs = clock.monotonicMs();
        continue;
      }
      if (signal.aborted) return true;
      if (observed && observed.record.holderIdentity !== identity && observed.record.holderIdentity !== '') {
        log.warn('Lost the lease to another server', { leader: observed.record.holderIdentity });
        return false;
      }
      if (clock.monotonicMs() - lastRenewMs >= renewDeadlineMs) {
        log.warn('Could not renew the lease in time; stepping down', { renewDeadlineMs });
        return false;
      }
    }
  }

  async function release(): Promise<void> {
    if (!observed || observed.record.holderIdentity !== identity) return;
    const nowIso = toMicroTime(clock.now());
    const record: LeaderElectionRecord = {
      holderIdentity: '',
      leaseDurationSeconds: 1,
      acquireTime: nowIso,
      renewTime: nowIso,
      leaseTransitions: observed.record.leaseTransitions,
    };
    try {
      const ac = new AbortController();
      const timer = clock.setTimeout(() => ac.abort(new Error('Lease release timed out')), renewDeadlineMs);
      try {
        const resourceVersion = await lock.update(record, observed.resourceVersion, ac.signal);
        observe({ record, resourceVersion });
      } finally {
        timer.cancel();
      }
      log.info('Released the lease');
    } catch (err) {
      log.info('Could not release the lease; it will expire', {
        error: describeError(err),
        code: errorCode(err),
      });
    }
  }

  return {
    isLeader: () => leading,
    leaderIdentity: () => lastHolder,
    async run(signal) {
      while (!signal.aborted) {
        if (!(await acquire(signal))) break;
        leading = true;
        log.info('Became the leader', { identity });
        const leaderAc = new AbortController();
        const work = (async () => {
          try {
            await options.onStartedLeading(leaderAc.signal);
          } catch (err) {
            log.error('Leader work failed', { error: describeError(err) });
          }
        })();
        // Leading ends when renewing fails, when the work returns on its own, or on shutdown.
        const workEnded = work.then(() => 'work-ended' as const);
        const renewAc = new AbortController();
        const onAbort = (): void => renewAc.abort(signal.reason);
        signal.addEventListener('abort', onAbort, { once: true });
        const outcome = await Promise.race([
          renew(renewAc.signal).then((ok) => (ok ? 'stopped' : 'lost')),
          workEnded,
        ]);
        renewAc.abort();
        signal.removeEventListener('abort', onAbort);
        leaderAc.abort(new Error('Leadership ended'));
        await work;
        leading = false;
        options.onStoppedLeading?.();
        if (outcome !== 'lost') await release();
        log.info('Stopped leading', { reason: outcome });
        // Work that returns on its own must not turn this into a busy loop.
        if (outcome === 'work-ended') await clock.sleep(retryPeriodMs, signal).catch(() => undefined);
      }
    },
  };
}
