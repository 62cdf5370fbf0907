/**
 * How hyperctl finds what a user names: a pod by id, unique id prefix or name; a container by
 * id, prefix or name; and "POD|CONTAINER" arguments that may be either (a pod stands for its
 * first container, as in hyperd).
 */
import { invalid, notFound } from '../../lib/index.js';
import type { Container, NodeRuntime, PodSandbox } from '../../runtime/index.js';

const isHexPrefix = (s: string): boolean => /^[0-9a-f]{6,64}$/.test(s);

function pickOne<T extends { id: string }>(
  matches: T[],
  what: string,
  ref: string,
  preferred?: (x: T) => boolean,
): T {
  if (matches.length === 1) return matches[0] as T;
  if (matches.length > 1 && preferred) {
    const p = matches.filter(preferred);
    if (p.length === 1) return p[0] as T;
  }
  if (matches.length === 0) throw notFound(`No ${what} named "${ref}"`);
  throw invalid(
    `"${ref}" names ${matches.length} ${what}s: use an id (${matches.map((m) => m.id.slice(0, 12)).join(', ')})`,
  );
}

export async function findPod(rt: NodeRuntime, ref: string): Promise<PodSandbox | undefined> {
  const all = await rt.listPodSandbox();
  const exact = all.find((p) => p.id === ref);
  if (exact) return exact;
  const byName = all.filter((p) => p.metadata.name === ref);
  if (byName.length) return pickOne(byName, 'pod', ref, (p) => p.state === 'SANDBOX_READY');
  if (isHexPrefix(ref)) {
    const byPrefix = all.filter((p) => p.id.startsWith(ref));
    if (byPrefix.length) return pickOne(byPrefix, 'pod', ref);
  }
  return undefined;
}

export async function resolvePod(rt: NodeRuntime, ref: string): Promise<PodSandbox> {
  const pod = await findPod(rt, ref);
  if (!pod) throw notFound(`No such pod: "${ref}"`);
  return pod;
}

export async function findContainer(rt: NodeRuntime, ref: string): Promise<Container | undefined> {
  const all = await rt.listContainers();
  const exact = all.find((c) => c.id === ref);
  if (exact) return exact;
  const byName = all.filter((c) => c.metadata.name === ref);
  if (byName.length) return pickOne(byName, 'container', ref, (c) => c.state === 'CONTAINER_RUNNING');
  if (isHexPrefix(ref)) {
    const byPrefix = all.filter((c) => c.id.startsWith(ref));
    if (byPrefix.length) return pickOne(byPrefix, 'container', ref);
  }
  return undefined;
}

/** The container a pod stands for: its first running one, else its newest. */
export async function mainContainer(rt: NodeRuntime, pod: PodSandbox): Promise<Container> {
  const list = [...(await rt.listContainers({ podSandboxId: pod.id }))];
  const running = list.find((c) => c.state === 'CONTAINER_RUNNING');
  if (running) return running;
  const newest = list.sort((a, b) => b.createdAt - a.createdAt)[0];
  if (!newest) throw notFound(`Pod "${pod.metadata.name}" has no containers`);
  return newest;
}

/** A container named directly, or the main container of a named pod. */
export async function resolveContainerOrPod(rt: NodeRuntime, ref: string): Promise<Container> {
  const c = await findContainer(rt, ref);
  if (c) return c;
  const pod = await findPod(rt, ref);
  if (pod) return mainContainer(rt, pod);
  throw notFound(`No such pod or container: "${ref}"`);
}
