/**
 * reconcile: the machinery every controller stands on: a rate-limited work queue, the
 * level-triggered controller loop, and leader election over Leases.
 *
 * What it is not: it knows no kind (controllers do) and never touches the store; leases are
 * read and written through the client.
 *
 * Invariants: a key is never reconciled by two workers at once; time comes from an injected
 * Clock (tests use ManualClock); only one elector holds a lease at any time, provided
 * leaseDuration > renewDeadline and clocks run at the same rate.
 */
export * from './work-queue.js';
export * from './controller.js';
export * from './lease-lock.js';
export * from './leader-election.js';
export * from './linked-signal.js';
