/**
 * storage: the revisioned key-value store every object lives in (DESIGN.md section 3).
 *
 * What it is: the `KeyValueStore` contract and its backends (sqlite:// by default, etcd://
 * for HA, memory:// for unit tests), chosen by URL. What it is not: anything that knows
 * about kinds or JSON; values are opaque bytes.
 * Invariants: one global, strictly increasing revision; compare-and-swap on modRevision;
 * watches in revision order without gaps; compacted revisions answer Gone.
 */
export type * from './key-value-store.js';
export { openKeyValueStore, type OpenKeyValueStoreDeps } from './open-key-value-store.js';
