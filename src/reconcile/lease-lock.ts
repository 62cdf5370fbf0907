/**
 * The lock leader election competes for: a `coordination.k8s.io/v1` Lease, read and written
 * with compare-and-swap on its resourceVersion (client-go's resourcelock.LeaseLock).
 *
 * Contract (checked by `runLeaseLockConformance` for the real lock and the memory fake):
 * - `get` answers undefined when there is no lease, else its record and resourceVersion.
 * - `create` throws AlreadyExists when the lease exists.
 * - `update` throws Conflict when `resourceVersion` is not the current one, and returns the
 *   new resourceVersion otherwise.
 */
import { builtinResources, type ApiClient } from '../client/index.js';
import type { KubeObject } from '../api/index.js';
import { internal } from '../lib/index.js';

/** What a lease says about its holder (times are RFC 3339 with microseconds). */
export interface LeaderElectionRecord {
  /** Empty when released. */
  readonly holderIdentity: string;
  readonly leaseDurationSeconds: number;
  readonly acquireTime: string;
  readonly renewTime: string;
  readonly leaseTransitions: number;
}

export interface ObservedLease {
  readonly record: LeaderElectionRecord;
  readonly resourceVersion: string;
}

export interface LeaseLock {
  /** e.g. `kube-system/h8s-controllers`, for logs. */
  readonly description: string;
  get(signal?: AbortSignal): Promise<ObservedLease | undefined>;
  /** @throws AlreadyExists when the lease exists. @returns the new resourceVersion. */
  create(record: LeaderElectionRecord, signal?: AbortSignal): Promise<string>;
  /** @throws Conflict when `resourceVersion` is stale. @returns the new resourceVersion. */
  update(record: LeaderElectionRecord, resourceVersion: string, signal?: AbortSignal): Promise<string>;
}

/** Milliseconds → the MicroTime format Leases use (`2026-01-01T00:00:00.123000Z`). */
export function toMicroTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

interface Lease extends KubeObject {
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

function recordOf(lease: Lease): ObservedLease {
  const spec = lease.spec ?? {};
  return {
    record: {
      holderIdentity: spec.holderIdentity ?? '',
      leaseDurationSeconds: spec.leaseDurationSeconds ?? 0,
      acquireTime: spec.acquireTime ?? '',
      renewTime: spec.renewTime ?? '',
      leaseTransitions: spec.leaseTransitions ?? 0,
    },
    resourceVersion: lease.metadata.resourceVersion ?? '',
  };
}

function specOf(record: LeaderElectionRecord): NonNullable<Lease['spec']> {
  return {
    holderIdentity: record.holderIdentity,
    leaseDurationSeconds: record.leaseDurationSeconds,
    ...(record.acquireTime ? { acquireTime: record.acquireTime } : {}),
    ...(record.renewTime ? { renewTime: record.renewTime } : {}),
    leaseTransitions: record.leaseTransitions,
  };
}

export interface LeaseLockOptions {
  readonly client: ApiClient;
  readonly namespace: string;
  readonly name: string;
  /** Per-request deadline; leader election needs answers well within its renew deadline. */
  readonly timeoutMs?: number | undefined;
}

/** A LeaseLock on the Lease `namespace/name` through the API. */
export function createLeaseLock(options: LeaseLockOptions): LeaseLock {
  const leases = options.client.resource<Lease>(builtinResources.leases, options.namespace);
  const rv = (lease: Lease): string => {
    const v = lease.metadata.resourceVersion;
    if (!v)
      throw internal(`Lease "${options.namespace}/${options.name}" came back without a resourceVersion`);
    return v;
  };
  return {
    description: `${options.namespace}/${options.name}`,
    async get(signal) {
      const lease = await leases.find(options.name, { signal, timeoutMs: options.timeoutMs });
      return lease ? recordOf(lease) : undefined;
    },
    async create(record, signal) {
      const lease = await leases.create(
        {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: options.name, namespace: options.namespace },
          spec: specOf(record),
        },
        { signal, timeoutMs: options.timeoutMs },
      );
      return rv(lease);
    },
    async update(record, resourceVersion, signal) {
      // A full PUT with the observed resourceVersion: the server's compare-and-swap decides.
      const lease = await leases.update(
        {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: options.name, namespace: options.namespace, resourceVersion },
          spec: specOf(record),
        },
        { signal, timeoutMs: options.timeoutMs },
      );
      return rv(lease);
    },
  };
}
