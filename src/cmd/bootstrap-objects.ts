/**
 * The objects every h8s cluster has from its first start, created by `h8s server` once its
 * API answers (upstream's apiserver creates the system PriorityClasses the same way, in a
 * post-start hook): the RuntimeClasses `hyper` (VM pods, the default) and `runc` (Linux
 * containers; privileged, hostNetwork and hostPID pods go there), and the system
 * PriorityClasses. An object a user changed or deleted-and-recreated is left as it is; a
 * missing one is created again on the next start.
 */
import { systemPriorityClasses, type KubeObject } from '../api/index.js';
import { builtinResources, type ApiClient, type ResourceRef } from '../client/index.js';
import { Backoff, describeError, isAlreadyExists, type Logger } from '../lib/index.js';

interface BootstrapObject {
  readonly resource: ResourceRef;
  readonly object: KubeObject;
}

export function bootstrapObjects(): readonly BootstrapObject[] {
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
): Promise<void> {
  for (const { resource, object } of bootstrapObjects()) {
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
