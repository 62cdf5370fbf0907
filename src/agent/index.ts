/**
 * agent: the node agent (kubelet). It registers the node, runs the pods the scheduler bound to
 * it through the node's runtime daemon, reports their status, serves their streams and plumbs
 * their network and volumes.
 *
 * What it is not: it never touches the store (only the API through the client) and knows no
 * VM or container details beyond the runtime API.
 *
 * Invariants: the runtime's labels and the API are the only state; after a restart the agent
 * rebuilds everything from them before acting, so no pod is duplicated or lost. Everything per
 * node (data dir, runtime socket, network names) is the node's own, so several nodes run on
 * one host.
 */
export { createAgent, type Agent, type AgentConfig, type AgentDeps } from './node-agent-runner.js';
export { noPodNetworking, type PodNetworking } from './pods/pod-worker.js';
export { PlumbedPodNetworking, type PlumbedPodNetworkingOptions } from './network/plumbed-pod-networking.js';
export type { ServiceProgrammer } from './proxy/service-proxy.js';
export { StreamingServer, kubeletClientName, type StreamingTls } from './streaming/streaming-server.js';
