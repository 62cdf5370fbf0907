/**
 * The registry of served kinds: `allKinds()` in a stable order, and lookups by resource
 * (group, version, plural), by apiVersion + kind, and by any name kubectl accepts (plural,
 * singular, short name). Built once at import; pure.
 */
import type { KindDefinition } from './kind-definition.js';
import { daemonSetKind } from './apps/v1/daemon-set.js';
import { deploymentKind } from './apps/v1/deployment.js';
import { replicaSetKind } from './apps/v1/replica-set.js';
import { statefulSetKind } from './apps/v1/stateful-set.js';
import { jobKind } from './batch/v1/job.js';
import { leaseKind } from './coordination/v1/lease.js';
import { configMapKind } from './core/v1/config-map.js';
import { endpointsKind } from './core/v1/endpoints.js';
import { eventKind } from './core/v1/event.js';
import { namespaceKind } from './core/v1/namespace.js';
import { networkKind } from './core/v1/network.js';
import { nodeKind } from './core/v1/node.js';
import { persistentVolumeClaimKind } from './core/v1/persistent-volume-claim.js';
import { persistentVolumeKind } from './core/v1/persistent-volume.js';
import { podKind } from './core/v1/pod.js';
import { secretKind } from './core/v1/secret.js';
import { serviceAccountKind } from './core/v1/service-account.js';
import { serviceKind } from './core/v1/service.js';
import { endpointSliceKind } from './discovery/v1/endpoint-slice.js';
import { runtimeClassKind } from './node/v1/runtime-class.js';
import { clusterRoleBindingKind } from './rbac/v1/cluster-role-binding.js';
import { clusterRoleKind } from './rbac/v1/cluster-role.js';
import { roleBindingKind } from './rbac/v1/role-binding.js';
import { roleKind } from './rbac/v1/role.js';
import { priorityClassKind } from './scheduling/v1/priority-class.js';
import { storageClassKind } from './storage/v1/storage-class.js';

const kinds: readonly KindDefinition[] = Object.freeze([
  // core/v1 (Network is served here, as Hypernetes did, so the seed's manifests apply verbatim)
  namespaceKind,
  podKind,
  serviceKind,
  endpointsKind,
  configMapKind,
  secretKind,
  nodeKind,
  eventKind,
  serviceAccountKind,
  persistentVolumeKind,
  persistentVolumeClaimKind,
  networkKind,
  // apps/v1
  deploymentKind,
  replicaSetKind,
  statefulSetKind,
  daemonSetKind,
  // batch/v1
  jobKind,
  // coordination.k8s.io/v1
  leaseKind,
  // discovery.k8s.io/v1
  endpointSliceKind,
  // node.k8s.io/v1
  runtimeClassKind,
  // scheduling.k8s.io/v1
  priorityClassKind,
  // storage.k8s.io/v1
  storageClassKind,
  // rbac.authorization.k8s.io/v1
  roleKind,
  clusterRoleKind,
  roleBindingKind,
  clusterRoleBindingKind,
]);

/** `v1` for the core group, `apps/v1` otherwise. */
export function apiVersionOf(def: Pick<KindDefinition, 'group' | 'version'>): string {
  return def.group === '' ? def.version : `${def.group}/${def.version}`;
}

/** Splits an apiVersion into group and version (`v1` → core group). */
export function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.lastIndexOf('/');
  return slash < 0
    ? { group: '', version: apiVersion }
    : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

const byResource = new Map<string, KindDefinition>();
const byGvk = new Map<string, KindDefinition>();
const byName = new Map<string, KindDefinition[]>();

function addName(name: string, def: KindDefinition): void {
  const list = byName.get(name) ?? [];
  if (!list.includes(def)) list.push(def);
  byName.set(name, list);
}

for (const def of kinds) {
  byResource.set(`${def.group}/${def.version}/${def.plural}`, def);
  byGvk.set(`${apiVersionOf(def)}/${def.kind}`, def);
  addName(def.plural, def);
  addName(def.singular, def);
  addName(def.kind.toLowerCase(), def);
  for (const s of def.shortNames) addName(s, def);
}

/** Every served kind, in a stable order (core first). */
export function allKinds(): readonly KindDefinition[] {
  return kinds;
}

/** The kind served at `/{group}/{version}/{plural}`, or undefined. */
export function findKindByResource(
  group: string,
  version: string,
  plural: string,
): KindDefinition | undefined {
  return byResource.get(`${group}/${version}/${plural}`);
}

/** The kind for a manifest's `apiVersion` and `kind`, or undefined. */
export function findKindByApiVersionKind(apiVersion: string, kind: string): KindDefinition | undefined {
  return byGvk.get(`${apiVersion}/${kind}`);
}

/** The kind for a short name such as `po`, `deploy`, `net`, or undefined. */
export function findKindByShortName(shortName: string): KindDefinition | undefined {
  const candidates = byName.get(shortName.toLowerCase()) ?? [];
  return candidates.find((d) => d.shortNames.includes(shortName.toLowerCase()));
}

/**
 * Resolves what a user types (`pods`, `pod`, `po`, `deployments.apps`, `Network`) to kinds;
 * several when the name is ambiguous across groups. An optional `.group` suffix narrows it.
 */
export function findKindsByName(name: string): readonly KindDefinition[] {
  const lower = name.toLowerCase();
  const direct = byName.get(lower);
  if (direct) return direct;
  const dot = lower.indexOf('.');
  if (dot < 0) return [];
  const group = lower.slice(dot + 1);
  return (byName.get(lower.slice(0, dot)) ?? []).filter((d) => d.group === group);
}

/** The group/versions served, in discovery order: `[{ group: '', version: 'v1' }, ...]`. */
export function servedGroupVersions(): readonly { group: string; version: string }[] {
  const seen = new Set<string>();
  const out: { group: string; version: string }[] = [];
  for (const def of kinds) {
    const key = apiVersionOf(def);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ group: def.group, version: def.version });
  }
  return out;
}
