/**
 * runtime: the node runtime daemon (the hyperd of the seed): the runtime API (CRI-shaped),
 * its server on a unix socket and its client, and the `hyper` (QEMU VM) and `runc` handlers.
 *
 * What it is not: anything that knows about the Kubernetes API; the agent composes it.
 * Invariants: VMs and containers outlive the daemon and are re-adopted from its state
 * directory; everything a guest sends is untrusted and bounded.
 *
 * Use: the agent and hyperctl talk to the daemon with `new RuntimeClient({ endpoint })`;
 * `cmd/runtime.ts` composes `createRuntimeCore` + handlers + `createRuntimeServer`.
 * Handlers written in TypeScript write their CRI logs with `CriLogWriter`.
 */
export type * from './runtime-service.js';
export type * from './sandbox-handler.js';
export type * from '../images/index.js';
export { createRuntimeCore, chooseHandler, hostAccessRequests } from './runtime-core.js';
export type { RuntimeCore, RuntimeCoreOptions } from './runtime-core.js';
export { createRuntimeServer, socketPathOf, streamProtocol } from './runtime-server.js';
export type { RuntimeServer, RuntimeServerOptions } from './runtime-server.js';
export { RuntimeClient } from './runtime-client.js';
export type { RuntimeClientOptions } from './runtime-client.js';
export { createRuncHandler } from './runc/runc-handler.js';
export { createHyperHandler, defaultGuestDir, findGuestAssets } from './hyper/index.js';
export type { HyperHandler, HyperHandlerOptions, GuestAssets } from './hyper/index.js';
export type { RuncHandlerOptions } from './runc/runc-handler.js';
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

/** Where `h8s runtime` listens and hyperctl connects by default. */
export const defaultRuntimeEndpoint = 'unix:///run/h8s/runtime.sock';
export * from './hyper/index.js';
