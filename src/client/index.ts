/**
 * client: the typed REST client for the h8s (Kubernetes) API, with discovery, watch streams,
 * informers and their indexed caches. Everything that talks to the API server goes through it:
 * controllers, scheduler, agent, CLIs.
 *
 * What it is not: it never touches the store, knows no kind-specific behaviour beyond the
 * resource coordinates in `builtinResources`, and does not retry writes on its own (callers
 * own their retry policy; informers own theirs).
 *
 * Invariants:
 * - The only place that turns a Kubernetes Status back into an H8sError (`errorFromStatus`);
 *   callers branch on codes (`isNotFound`, `isConflict`, `isGone`).
 * - Bearer tokens never reach logs or error messages.
 * - Objects in informer caches are frozen; copy (`structuredClone`) before changing.
 */
export * from './api-client.js';
export * from './discovery-client.js';
export * from './event-recorder.js';
export * from './informer.js';
export * from './kubeconfig.js';
export * from './object-cache.js';
export * from './resource-ref.js';
export * from './status-error.js';
export * from './subresource-calls.js';
export type * from './wire-types.js';
export { parseWarningHeaders } from './http-transport.js';
export type { HttpMethod, HttpResponse, QueryValue } from './http-transport.js';
