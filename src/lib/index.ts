/**
 * lib: the bottom layer of h8s. Errors, logging, clocks, process execution, waiting,
 * back-off and parsing of untrusted input.
 *
 * What it is not: anything that knows about Kubernetes kinds, the store or the network.
 * Invariants: depends only on Node built-ins and vetted packages; `exec.ts` is the only
 * file in src/ that spawns processes.
 */
export * from './errors.js';
export * from './log.js';
export * from './clock.js';
export * from './exec.js';
export * from './wait.js';
export * from './backoff.js';
export * from './parse.js';
export * from './records.js';
export * from './atomic-file.js';
export * from './best-effort.js';
export * from './wire-error.js';
export * from './metrics.js';
export * from './worker-thread.js';
