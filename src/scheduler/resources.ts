/**
 * What a pod asks of a node, as upstream's resource helpers compute it: the larger of the
 * regular containers' sum (plus sidecars, i.e. restartable init containers) and the peak of
 * the init phase, plus the RuntimeClass overhead. CPU is in millicores, everything else in
 * base units (bytes, counts).
 */
import { findQuantity, type Pod } from '../api/index.js';

export type ResourceList = Map<string, number>;

/** Requests assumed for scoring when a container sets none (upstream's non-zero defaults). */
export const defaultMilliCpuRequest = 100;
export const defaultMemoryRequest = 200 * 1024 * 1024;

interface ContainerLike {
  readonly resources?: { readonly requests?: Readonly<Record<string, string | number>> } | undefined;
  readonly restartPolicy?: string | undefined;
}

function amount(name: string, q: string | number): number {
  const v = findQuantity(q) ?? 0;
  return name === 'cpu' ? Math.ceil(v * 1000) : Math.ceil(v);
}

function containerRequests(c: ContainerLike): ResourceList {
  const out: ResourceList = new Map();
  for (const [name, q] of Object.entries(c.resources?.requests ?? {})) out.set(name, amount(name, q));
  return out;
}

function addInto(into: ResourceList, more: ResourceList): void {
  for (const [k, v] of more) into.set(k, (into.get(k) ?? 0) + v);
}

function maxInto(into: ResourceList, other: ResourceList): void {
  for (const [k, v] of other) if (v > (into.get(k) ?? 0)) into.set(k, v);
}

/** The pod's effective requests (filtering), overhead included. */
export function podRequests(pod: Pod): ResourceList {
  const spec = pod.spec;
  const total: ResourceList = new Map();
  for (const c of spec?.containers ?? []) addInto(total, containerRequests(c));
  const sidecars: ResourceList = new Map();
  const initPeak: ResourceList = new Map();
  for (const c of spec?.initContainers ?? []) {
    const r = containerRequests(c);
    if (c.restartPolicy === 'Always') {
      addInto(sidecars, r);
      maxInto(initPeak, sidecars);
    } else {
      const during = new Map(sidecars);
      addInto(during, r);
      maxInto(initPeak, during);
    }
  }
  addInto(total, sidecars);
  maxInto(total, initPeak);
  for (const [name, q] of Object.entries(spec?.overhead ?? {})) {
    total.set(name, (total.get(name) ?? 0) + amount(name, q));
  }
  return total;
}

/** cpu and memory for scoring: containers with no request count the non-zero defaults. */
export function podScoringRequests(pod: Pod): { milliCpu: number; memory: number } {
  let milliCpu = 0;
  let memory = 0;
  const all = [
    ...(pod.spec?.containers ?? []),
    ...(pod.spec?.initContainers ?? []).filter((c) => c.restartPolicy === 'Always'),
  ];
  for (const c of all) {
    const r = containerRequests(c);
    milliCpu += r.get('cpu') ?? defaultMilliCpuRequest;
    memory += r.get('memory') ?? defaultMemoryRequest;
  }
  for (const [name, q] of Object.entries(pod.spec?.overhead ?? {})) {
    if (name === 'cpu') milliCpu += amount(name, q);
    if (name === 'memory') memory += amount(name, q);
  }
  return { milliCpu, memory };
}

/** A node's allocatable resources (cpu in millicores). */
export function allocatableOf(
  allocatable: Readonly<Record<string, string | number>> | undefined,
): ResourceList {
  const out: ResourceList = new Map();
  for (const [name, q] of Object.entries(allocatable ?? {})) out.set(name, amount(name, q));
  return out;
}
