/**
 * The objects every h8s cluster has from its first start, created by `h8s server` once its
 * API answers (upstream's apiserver creates the system PriorityClasses the same way, in a
 * post-start hook): the RuntimeClasses `hyper` (VM pods, the default) and `runc` (Linux
 * containers; privileged, hostNetwork and hostPID pods go there), the system
 * PriorityClasses, and the `default` Network (subnet `--cluster-cidr`; pods of namespaces
 * without `spec.network` join it, docs/network.md). An object a user changed or deleted-and-recreated is left as it is; a
 * missing one is created again on the next start.
 */
import { systemPriorityClasses, type KubeObject } from '../api/index.js';
import { builtinResources, type ApiClient, type ResourceRef } from '../client/index.js';
import { Backoff, describeError, isAlreadyExists, type Logger } from '../lib/index.js';

interface BootstrapObject {
  readonly resource: ResourceRef;
  readonly object: KubeObject;
}

export interface BootstrapOptions {
  /** Subnet of the default Network (`--cluster-cidr`). */
  readonly clusterCidr: string;
}

export function bootstrapObjects(
  options: BootstrapOptions = { clusterCidr: '10.42.0.0/16' },
): readonly BootstrapObject[] {
  const runtimeClass = (name: 'hyper' | 'runc'): BootstrapObject => ({
    resource: builtinResources.runtimeClasses,
    object: {
      apiVersion: 'node.k8s.io/v1',
      kind: 'RuntimeClass',
      metadata: { name, labels: { 'h8s.io/bootstrap': 'true' } },
      handler: name,
    } as KubeObject,
  });
  return [
    runtimeClass('hyper'),
    runtimeClass('runc'),
    {
      resource: builtinResources.networks,
      object: {
        apiVersion: 'v1',
        kind: 'Network',
        metadata: { name: 'default', labels: { 'h8s.io/bootstrap': 'true' } },
        spec: { tenantID: 'default', subnets: { default: { cidr: options.clusterCidr } } },
      } as KubeObject,
    },
    ...systemPriorityClasses.map((c) => ({
      resource: builtinResources.priorityClasses,
      object: {
        apiVersion: 'scheduling.k8s.io/v1',
        kind: 'PriorityClass',
        metadata: { name: c.name },
        value: c.value,
        description: c.description,
      } as KubeObject,
    })),
  ];
}

/**
 * Creates what is missing. Retries transient failures with back-off for about a minute, then
 * logs and goes on: a cluster without them still serves, and the next start tries again.
 */
export async function ensureBootstrapObjects(
  client: ApiClient,
  log: Logger,
  signal: AbortSignal,
  options?: BootstrapOptions,
): Promise<void> {
  for (const { resource, object } of bootstrapObjects(options)) {
    const name = object.metadata.name ?? '';
    const backoff = new Backoff({ initialMs: 200, maxMs: 5_000, jitter: 0.2 });
    for (let attempt = 1; !signal.aborted; attempt++) {
      try {
        await client.resource(resource).create(object, { signal });
        log.info('Created a bootstrap object', { kind: object.kind, name });
        break;
      } catch (err) {
        if (isAlreadyExists(err)) break;
        if (attempt >= 20) {
          log.warn('Cannot create a bootstrap object; the next start tries again', {
            kind: object.kind,
            name,
            error: describeError(err),
          });
          break;
        }
        await new Promise((r) => setTimeout(r, backoff.next()));
      }
    }
  }
}
