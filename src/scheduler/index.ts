/**
 * scheduler: assigns pending pods to nodes (kube-scheduler's role). A priority queue with
 * back-off, filter and score plugins with upstream's names and reason strings, preemption of
 * lower-priority pods, binding through `pods/binding`.
 *
 * What it is not: it never touches the store or a node; it reads through informers and writes
 * bindings, pod status conditions, events and preemption deletions through the client.
 *
 * Invariants: decisions are made one at a time over the cache, which counts a pod on its
 * node from the moment it is chosen (assumed) until the binding fails or the informer
 * confirms it, so two pods are never placed in the same free space; time comes from the
 * injected Clock.
 */
export {
  createScheduler,
  defaultSchedulerName,
  type Scheduler,
  type SchedulerOptions,
  type SchedulerStats,
} from './scheduler.js';
export {
  failureMessage,
  type FilterFailure,
  type FilterPlugin,
  type ScorePlugin,
  type ClusterView,
  type CycleContext,
} from './framework.js';
export {
  defaultFilters,
  defaultScores,
  tolerates,
  effectiveTaints,
  hostnameLabel,
  zoneLabel,
} from './plugins/index.js';
export { SchedulerCache } from './scheduler-cache.js';
export { SchedulingQueue } from './scheduling-queue.js';
export { scheduleOne, newCycle, feasibleNodesToFind } from './schedule-one.js';
export { findPreemption } from './preemption.js';
export { podRequests } from './resources.js';
export { NodeInfo, podInfoOf, podKey, type PodInfo } from './node-info.js';
