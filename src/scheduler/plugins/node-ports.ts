/**
 * Host ports (upstream's NodePorts) and runtime handlers: a node cannot take a pod whose host
 * port (protocol, address, port) is taken there, where an empty address conflicts with every
 * address; nor a pod whose runtime handler (`hyper`, `runc`) the node does not report.
 */
import { podNeedsHostAccess, type Pod } from '../../api/index.js';
import { unresolvable, unschedulable, type ClusterView, type FilterPlugin } from '../framework.js';
import type { NodeInfo } from '../node-info.js';

function conflicts(want: string, node: NodeInfo): boolean {
  if (node.usedPorts.has(want)) return true;
  const [protocol, ip, port] = want.split('/');
  if (ip === '') {
    for (const used of node.usedPorts.keys()) {
      const [p2, , port2] = used.split('/');
      if (p2 === protocol && port2 === port) return true;
    }
    return false;
  }
  return node.usedPorts.has(`${protocol}//${port}`);
}

export const nodePortsFilter: FilterPlugin = {
  name: 'NodePorts',
  filter(ctx, node) {
    for (const p of ctx.info.hostPorts)
      if (conflicts(p, node))
        return unschedulable("node(s) didn't have free ports for the requested pod ports");
    return undefined;
  },
};

/** The handler the pod runs on, as the agent chooses it; undefined when its RuntimeClass is missing. */
export function podHandler(pod: Pod, view: ClusterView): string | undefined {
  const rc = pod.spec?.runtimeClassName;
  if (rc) return view.runtimeClass(rc)?.handler;
  return podNeedsHostAccess(pod) ? 'runc' : 'hyper';
}

export const runtimeHandlerFilter: FilterPlugin = {
  name: 'RuntimeHandler',
  preFilter(ctx) {
    const rc = ctx.pod.spec?.runtimeClassName;
    if (rc && !ctx.view.runtimeClass(rc)) return unresolvable(`RuntimeClass "${rc}" not found`);
    return undefined;
  },
  filter(ctx, node) {
    const reported = node.node.status?.runtimeHandlers;
    if (reported === undefined) return undefined; // a node that does not say: assume it can
    const want = podHandler(ctx.pod, ctx.view);
    if (want !== undefined && reported.some((h) => h.name === want)) return undefined;
    return unresolvable(`node(s) didn't have the runtime handler "${want ?? ''}"`);
  },
};
