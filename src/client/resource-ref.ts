/**
 * How the client names a resource: (group, version, plural, namespaced), the coordinates of a
 * REST collection. Kinds map to resources through discovery (`DiscoveryClient.findResourceFor`).
 */
import { badRequest } from '../lib/index.js';

export interface ResourceRef {
  /** API group; '' for the core group (served under /api/v1). */
  readonly group: string;
  readonly version: string;
  /** Lower-case plural, e.g. `deployments`. */
  readonly plural: string;
  readonly namespaced: boolean;
  /** The kind of the objects; the client fills it into list items and watch events that lack it. */
  readonly kind?: string;
}

/** `apps/v1` or `v1` for the core group. */
export function apiVersionOf(ref: Pick<ResourceRef, 'group' | 'version'>): string {
  return ref.group === '' ? ref.version : `${ref.group}/${ref.version}`;
}

/** Splits `apps/v1` into group and version (`v1` → group ''). */
export function parseApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.indexOf('/');
  if (slash < 0) return { group: '', version: apiVersion };
  return { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

/** `/api/v1` or `/apis/apps/v1`. */
export function groupVersionPath(ref: Pick<ResourceRef, 'group' | 'version'>): string {
  return ref.group === '' ? `/api/${ref.version}` : `/apis/${ref.group}/${ref.version}`;
}

const segment = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/i;

function checkSegment(what: string, value: string): string {
  // Names reach the URL path; refuse anything that could change the path (slashes, dots-only, %).
  if (value === '' || value === '.' || value === '..' || !/^[^/%?#\s]+$/.test(value)) {
    throw badRequest(`Invalid ${what} ${JSON.stringify(value)}: must be a non-empty path segment`);
  }
  return encodeURIComponent(value);
}

/**
 * The path of a collection (`name` undefined) or an object, optionally a subresource of it.
 * `namespace` undefined on a namespaced resource means "all namespaces" (list and watch only).
 * @throws BadRequest when a cluster-scoped resource is given a namespace or a segment is not a valid path segment.
 */
export function resourcePath(
  ref: ResourceRef,
  namespace: string | undefined,
  name?: string,
  subresource?: string,
): string {
  if (!segment.test(ref.plural)) throw badRequest(`Invalid resource ${JSON.stringify(ref.plural)}`);
  if (!ref.namespaced && namespace !== undefined) {
    throw badRequest(
      `Resource "${ref.plural}" is cluster-scoped; it takes no namespace (got "${namespace}")`,
    );
  }
  let path = groupVersionPath(ref);
  if (namespace !== undefined) path += `/namespaces/${checkSegment('namespace', namespace)}`;
  path += `/${ref.plural}`;
  if (name !== undefined) path += `/${checkSegment('name', name)}`;
  if (subresource !== undefined) {
    if (name === undefined) throw badRequest(`Subresource "${subresource}" needs an object name`);
    path += `/${checkSegment('subresource', subresource)}`;
  }
  return path;
}

function ref(group: string, version: string, plural: string, kind: string, namespaced: boolean): ResourceRef {
  return Object.freeze({ group, version, plural, kind, namespaced });
}

/**
 * The built-in resources components use by name. Anything else (and anything added later) is
 * found through discovery.
 */
export const builtinResources = Object.freeze({
  namespaces: ref('', 'v1', 'namespaces', 'Namespace', false),
  nodes: ref('', 'v1', 'nodes', 'Node', false),
  pods: ref('', 'v1', 'pods', 'Pod', true),
  services: ref('', 'v1', 'services', 'Service', true),
  endpoints: ref('', 'v1', 'endpoints', 'Endpoints', true),
  configMaps: ref('', 'v1', 'configmaps', 'ConfigMap', true),
  secrets: ref('', 'v1', 'secrets', 'Secret', true),
  events: ref('', 'v1', 'events', 'Event', true),
  serviceAccounts: ref('', 'v1', 'serviceaccounts', 'ServiceAccount', true),
  persistentVolumes: ref('', 'v1', 'persistentvolumes', 'PersistentVolume', false),
  persistentVolumeClaims: ref('', 'v1', 'persistentvolumeclaims', 'PersistentVolumeClaim', true),
  networks: ref('', 'v1', 'networks', 'Network', false),
  deployments: ref('apps', 'v1', 'deployments', 'Deployment', true),
  replicaSets: ref('apps', 'v1', 'replicasets', 'ReplicaSet', true),
  statefulSets: ref('apps', 'v1', 'statefulsets', 'StatefulSet', true),
  daemonSets: ref('apps', 'v1', 'daemonsets', 'DaemonSet', true),
  jobs: ref('batch', 'v1', 'jobs', 'Job', true),
  leases: ref('coordination.k8s.io', 'v1', 'leases', 'Lease', true),
  endpointSlices: ref('discovery.k8s.io', 'v1', 'endpointslices', 'EndpointSlice', true),
  runtimeClasses: ref('node.k8s.io', 'v1', 'runtimeclasses', 'RuntimeClass', false),
  priorityClasses: ref('scheduling.k8s.io', 'v1', 'priorityclasses', 'PriorityClass', false),
  storageClasses: ref('storage.k8s.io', 'v1', 'storageclasses', 'StorageClass', false),
});
