/**
 * runtime: the node runtime daemon (the hyperd of the seed): the runtime API (CRI-shaped),
 * its server on a unix socket and its client, and the `hyper` (QEMU VM) and `runc` handlers.
 *
 * What it is not: anything that knows about the Kubernetes API; the agent composes it.
 * Invariants: VMs and containers outlive the daemon and are re-adopted from its state
 * directory; everything a guest sends is untrusted and bounded.
 */
export type * from './runtime-service.js';
export type * from './sandbox-handler.js';
export type * from '../images/index.js';
