/**
 * The daemon side of the runtime module (core, API server, handlers), loaded on demand through
 * `loadRuntimeDaemon()` in index.ts so that clients (hyperctl, the agent) do not pay for QEMU,
 * runc and the server when they only need `RuntimeClient`.
 */
export { claimRoot, createRuntimeCore } from './runtime-core.js';
export type { RuntimeCore, RuntimeCoreOptions } from './runtime-core.js';
export { createRuntimeServer } from './runtime-server.js';
export type { RuntimeServer, RuntimeServerOptions } from './runtime-server.js';
export { createRuncHandler } from './runc/runc-handler.js';
export type { RuncHandlerOptions } from './runc/runc-handler.js';
export { createHyperHandler } from './hyper/index.js';
export type { HyperHandler, HyperHandlerOptions } from './hyper/index.js';
