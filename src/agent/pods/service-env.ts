/**
 * Service link variables (kubelet's `getServiceEnvVarMap` and `envvars.FromServices`): for each
 * Service with a cluster IP, `<NAME>_SERVICE_HOST`, `<NAME>_SERVICE_PORT[_<PORT NAME>]` and the
 * Docker-links style `<NAME>_PORT*` variables. The pod's own namespace contributes only when
 * `enableServiceLinks` is not false; the `kubernetes` Service of `default` always does.
 */
import type { Service } from '../../api/index.js';
import type { EnvPair } from './container-env.js';

function envName(s: string): string {
  return s.toUpperCase().replace(/-/g, '_');
}

export function serviceLinkEnv(services: readonly Service[]): EnvPair[] {
  const out: EnvPair[] = [];
  // Sorted by name as upstream, so the order (and thus $(VAR) expansion) is stable.
  const sorted = [...services].sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
  for (const svc of sorted) {
    const ip = svc.spec?.clusterIP;
    if (!ip || ip === 'None') continue;
    const ports = svc.spec?.ports ?? [];
    const first = ports[0];
    if (!first) continue;
    const name = envName(svc.metadata?.name ?? '');
    out.push({ key: `${name}_SERVICE_HOST`, value: ip });
    out.push({ key: `${name}_SERVICE_PORT`, value: String(first.port ?? 0) });
    for (const p of ports) {
      if (p.name) out.push({ key: `${name}_SERVICE_PORT_${envName(p.name)}`, value: String(p.port ?? 0) });
    }
    const proto = (first.protocol ?? 'TCP').toLowerCase();
    out.push({ key: `${name}_PORT`, value: `${proto}://${ip}:${first.port ?? 0}` });
    for (const p of ports) {
      const pr = (p.protocol ?? 'TCP').toUpperCase();
      const prefix = `${name}_PORT_${p.port ?? 0}_${pr}`;
      out.push({ key: prefix, value: `${pr.toLowerCase()}://${ip}:${p.port ?? 0}` });
      out.push({ key: `${prefix}_PROTO`, value: pr.toLowerCase() });
      out.push({ key: `${prefix}_PORT`, value: String(p.port ?? 0) });
      out.push({ key: `${prefix}_ADDR`, value: ip });
    }
  }
  return out;
}
