/**
 * Typed calls to the subresources components use by name: `namespaces/{name}/finalize`,
 * `pods/{name}/binding`, `{resource}/{name}/scale`.
 */
import type { KubeObject } from '../api/index.js';
import type { ApiClient } from './api-client.js';
import { parseObjectReply } from './reply-schemas.js';
import { builtinResources, type ResourceRef } from './resource-ref.js';
import type { WriteOptions } from './wire-types.js';

/** `autoscaling/v1` Scale. */
export interface Scale extends KubeObject {
  spec: { replicas?: number };
  status?: { replicas: number; selector?: string };
}

function asObject<T extends KubeObject>(body: unknown, what: string): T {
  return parseObjectReply<T>(body, what, {});
}

/**
 * PUT `namespaces/{name}/finalize` with `namespace` (whose `spec.finalizers` the caller has
 * changed); the only way to change `spec.finalizers` of a namespace.
 * @throws Conflict when `metadata.resourceVersion` is stale; NotFound when the namespace is gone.
 */
export async function finalizeNamespace<T extends KubeObject>(
  client: ApiClient,
  namespace: T,
  options: WriteOptions = {},
): Promise<T> {
  const name = namespace.metadata.name ?? '';
  const body = await client
    .resource(builtinResources.namespaces)
    .updateSubresource(name, 'finalize', namespace, options);
  return asObject<T>(body, `the finalize of namespace "${name}"`);
}

/** POST `pods/{name}/binding`: assigns a pod to a node. @throws Conflict when already bound. */
export async function bindPod(
  client: ApiClient,
  namespace: string,
  podName: string,
  nodeName: string,
  options: WriteOptions = {},
): Promise<void> {
  await client.resource(builtinResources.pods, namespace).createSubresource(
    podName,
    'binding',
    {
      apiVersion: 'v1',
      kind: 'Binding',
      metadata: { name: podName, namespace },
      target: { apiVersion: 'v1', kind: 'Node', name: nodeName },
    },
    options,
  );
}

/** GET `{resource}/{name}/scale`. */
export async function getScale(
  client: ApiClient,
  resource: ResourceRef,
  namespace: string | undefined,
  name: string,
): Promise<Scale> {
  const body = await client.resource(resource, namespace).getSubresource(name, 'scale');
  return asObject<Scale>(body, `the scale of ${resource.plural} "${name}"`);
}

/** PUT `{resource}/{name}/scale`. @throws Conflict when `scale.metadata.resourceVersion` is stale. */
export async function updateScale(
  client: ApiClient,
  resource: ResourceRef,
  namespace: string | undefined,
  scale: Scale,
  options: WriteOptions = {},
): Promise<Scale> {
  const name = scale.metadata.name ?? '';
  const body = await client.resource(resource, namespace).updateSubresource(name, 'scale', scale, options);
  return asObject<Scale>(body, `the scale update of ${resource.plural} "${name}"`);
}
