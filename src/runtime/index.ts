/**
 * runtime: the node runtime daemon (the hyperd of the seed): the runtime API (CRI-shaped),
 * its server on a unix socket and its client, and the `hyper` (QEMU VM) and `runc` handlers.
 *
 * What it is not: anything that knows about the Kubernetes API; the agent composes it.
 * Invariants: VMs and containers outlive the daemon and are re-adopted from its state
 * directory; everything a guest sends is untrusted and bounded.
 *
 * Use: the agent and hyperctl talk to the daemon with `new RuntimeClient({ endpoint })`.
 * The daemon side (core, server, handlers) is loaded on demand: `await loadRuntimeDaemon()`
 * (cmd/runtime.ts composes `createRuntimeCore` + handlers + `createRuntimeServer`), so a
 * client does not load QEMU, runc or server code. Handlers written in TypeScript write their
 * CRI logs with `CriLogWriter`.
 */
export type * from './runtime-service.js';
export type * from './sandbox-handler.js';
export type * from '../images/index.js';
export { RuntimeClient } from './runtime-client.js';
export type { RuntimeClientOptions } from './runtime-client.js';
export { defaultRuntimeEndpoint, socketPathOf, streamProtocol } from './endpoint.js';
export { chooseHandler, hostAccessRequests } from './handler-routing.js';
export {
  CriLogWriter,
  formatCriLogLine,
  formatCriTime,
  parseCriLogLine,
  parseCriTime,
  readCriLog,
  criLogLineMaxBytes,
} from './cri-log.js';
export type { CriLogWriterOptions, ReadCriLogOptions } from './cri-log.js';
export { ByteChannel, collectBytes } from './byte-channel.js';
export { defaultGuestDir, findGuestAssets } from './hyper/guest-assets.js';
export type { GuestAssets } from './hyper/guest-assets.js';
import type * as RuntimeDaemon from './runtime-daemon.js';
/** The exports of the daemon side, as `loadRuntimeDaemon()` returns them. */
export type RuntimeDaemonModule = typeof RuntimeDaemon;
export type {
  RuntimeCore,
  RuntimeCoreOptions,
  RuntimeServer,
  RuntimeServerOptions,
  RuncHandlerOptions,
  HyperHandler,
  HyperHandlerOptions,
} from './runtime-daemon.js';

/** Loads the daemon side: `createRuntimeCore`, `createRuntimeServer`, `createRuncHandler`, `createHyperHandler`. */
export function loadRuntimeDaemon(): Promise<RuntimeDaemonModule> {
  return import('./runtime-daemon.js');
}
