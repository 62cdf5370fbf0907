/** The default plugin set, in upstream's order (cheap, decisive filters first). */
import type { FilterPlugin, ScorePlugin } from '../framework.js';
import { imageLocalityScore } from './image-locality.js';
import { interPodAffinityFilter, interPodAffinityScore } from './inter-pod-affinity.js';
import { nodeAffinityFilter, nodeAffinityScore, nodeNameFilter } from './node-affinity.js';
import { nodePortsFilter, runtimeHandlerFilter } from './node-ports.js';
import { balancedAllocationScore, leastAllocatedScore, nodeResourcesFitFilter } from './node-resources.js';
import { nodeUnschedulableFilter, taintTolerationFilter, taintTolerationScore } from './taint-toleration.js';
import { topologySpreadFilter, topologySpreadScore } from './topology-spread.js';

export const defaultFilters: readonly FilterPlugin[] = [
  nodeUnschedulableFilter,
  nodeNameFilter,
  taintTolerationFilter,
  nodeAffinityFilter,
  runtimeHandlerFilter,
  nodePortsFilter,
  nodeResourcesFitFilter,
  topologySpreadFilter,
  interPodAffinityFilter,
];

export const defaultScores: readonly ScorePlugin[] = [
  taintTolerationScore,
  nodeAffinityScore,
  leastAllocatedScore,
  balancedAllocationScore,
  imageLocalityScore,
  interPodAffinityScore,
  topologySpreadScore,
];

export { tolerates, effectiveTaints } from './taint-toleration.js';
export { hostnameLabel, zoneLabel } from './topology-spread.js';
