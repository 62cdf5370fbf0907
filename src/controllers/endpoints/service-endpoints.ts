/**
 * What a Service's endpoints are, from its pods (shared by the Endpoints and EndpointSlice
 * controllers, as upstream's `endpointutil`): which pods it selects, each pod's conditions
 * (ready, serving, terminating), and each service port resolved against the pod (a named
 * targetPort is looked up in the pod's container ports, so different pods may give different
 * numbers).
 */
import { matchesLabelSelector, parseLabelSelector, type Pod, type Service } from '../../api/index.js';

export interface PodEndpoint {
  readonly pod: Pod;
  readonly ip: string;
  readonly ready: boolean;
  readonly serving: boolean;
  readonly terminating: boolean;
}

export interface ResolvedPort {
  readonly name: string;
  readonly port: number;
  readonly protocol: string;
  readonly appProtocol?: string;
}

/** Whether the pod's Ready condition is True. */
export function isPodReady(pod: Pod): boolean {
  return (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** The pods of `service` that have an address, with their conditions (upstream's rules). */
export function selectEndpoints(service: Service, pods: readonly Pod[]): PodEndpoint[] {
  const selector = service.spec?.selector;
  if (!selector || Object.keys(selector).length === 0) return [];
  const parsed = parseLabelSelector(
    Object.entries(selector)
      .map(([k, v]) => `${k}=${v}`)
      .join(','),
  );
  const publishNotReady = service.spec?.publishNotReadyAddresses === true;
  const out: PodEndpoint[] = [];
  for (const pod of pods) {
    if (pod.metadata?.namespace !== service.metadata?.namespace) continue;
    if (!matchesLabelSelector(parsed, pod.metadata?.labels ?? {})) continue;
    const ip = pod.status?.podIP;
    if (!ip) continue;
    const phase = pod.status?.phase;
    if (phase === 'Succeeded' || phase === 'Failed') continue;
    const terminating = pod.metadata?.deletionTimestamp !== undefined;
    const ready = isPodReady(pod);
    out.push({
      pod,
      ip,
      // Upstream: a terminating endpoint is never ready; serving says whether it still passes
      // its readiness checks. publishNotReadyAddresses makes every endpoint ready.
      ready: publishNotReady || (ready && !terminating),
      serving: publishNotReady || ready,
      terminating,
    });
  }
  return out.sort((a, b) => (a.pod.metadata?.name ?? '').localeCompare(b.pod.metadata?.name ?? ''));
}

/** The service's ports as they reach `pod`; a named targetPort the pod lacks drops that port. */
export function resolvePorts(service: Service, pod: Pod): ResolvedPort[] {
  const out: ResolvedPort[] = [];
  for (const sp of service.spec?.ports ?? []) {
    const protocol = sp.protocol ?? 'TCP';
    let port: number | undefined;
    const target = sp.targetPort ?? sp.port;
    if (typeof target === 'number') port = target;
    else if (typeof target === 'string' && /^\d+$/.test(target)) port = Number(target);
    else if (typeof target === 'string') {
      for (const c of pod.spec?.containers ?? []) {
        const p = (c.ports ?? []).find((x) => x.name === target && (x.protocol ?? 'TCP') === protocol);
        if (p?.containerPort) {
          port = p.containerPort;
          break;
        }
      }
    }
    if (port === undefined) continue;
    out.push({
      name: sp.name ?? '',
      port,
      protocol,
      ...(sp.appProtocol ? { appProtocol: sp.appProtocol } : {}),
    });
  }
  return out;
}

/** A stable key of a port set, to group pods that resolve the ports the same way. */
export function portsKey(ports: readonly ResolvedPort[]): string {
  return ports.map((p) => `${p.name}/${p.protocol}/${p.port}`).join(',');
}
