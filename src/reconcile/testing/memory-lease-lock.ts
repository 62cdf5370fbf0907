/**
 * An in-memory LeaseLock for unit tests of leader election. Several locks made from one
 * `MemoryLeaseStore` share the lease, as processes share a server. It passes the same
 * conformance suite as the real lock (`runLeaseLockConformance`).
 */
import { alreadyExists, conflict, notFound, unavailable } from '../../lib/index.js';
import type { LeaderElectionRecord, LeaseLock, ObservedLease } from '../lease-lock.js';

export class MemoryLeaseStore {
  #lease: ObservedLease | undefined;
  #revision = 0;
  /** While true every call fails with ServiceUnavailable (a server outage). */
  failing = false;
  /** Calls made, for tests that count. */
  calls = 0;

  get current(): ObservedLease | undefined {
    return this.#lease;
  }

  /** A lock on the shared lease; set its `failing` to cut just this client off. */
  lock(description = 'memory/lease'): MemoryLeaseLock {
    const check = (signal?: AbortSignal): void => {
      this.calls++;
      signal?.throwIfAborted();
      if (this.failing || lock.failing)
        throw unavailable(`Cannot reach the lease store for "${description}"`);
    };
    const lock: MemoryLeaseLock = {
      failing: false,
      description,
      get: async (signal) => {
        check(signal);
        return this.#lease
          ? { record: { ...this.#lease.record }, resourceVersion: this.#lease.resourceVersion }
          : undefined;
      },
      create: async (record: LeaderElectionRecord, signal) => {
        check(signal);
        if (this.#lease) throw alreadyExists(`leases "${description}" already exists`);
        this.#lease = { record: { ...record }, resourceVersion: String(++this.#revision) };
        return this.#lease.resourceVersion;
      },
      update: async (record: LeaderElectionRecord, resourceVersion: string, signal) => {
        check(signal);
        if (!this.#lease) throw notFound(`leases "${description}" not found`);
        if (this.#lease.resourceVersion !== resourceVersion) {
          throw conflict(
            `Operation cannot be fulfilled on leases "${description}": the object has been modified`,
          );
        }
        this.#lease = { record: { ...record }, resourceVersion: String(++this.#revision) };
        return this.#lease.resourceVersion;
      },
    };
    return lock;
  }
}

export interface MemoryLeaseLock extends LeaseLock {
  failing: boolean;
}
