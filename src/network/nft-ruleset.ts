/**
 * The nftables scripts of a network, generated as text for `nft -f` (pure; the plumber
 * applies them). Two tables per network and node, both named after the network:
 *
 * - in the network's router namespace: Service load balancing (ClusterIP, externalIPs and
 *   NodePort DNAT to the endpoints, `numgen random` over a verdict map, ClientIP affinity as
 *   one timeout set of client addresses per endpoint), masquerade of hairpin traffic (a pod
 *   reaching a Service whose endpoint is on its own bridge) and of egress through the uplink,
 *   and a reject for Service ports without endpoints;
 * - in the node's namespace: hostPort DNAT to pods, NodePort forwarding to the router's uplink
 *   address (where the router's table balances it), masquerade of the router's egress.
 *
 * Each script replaces its table in one transaction: the table is created if missing, flushed
 * (rules go, affinity sets keep their members), stale chains and sets are deleted and the
 * whole table is declared again. A packet sees either the old or the new ruleset, never a mix.
 *
 * IPv4 only for now: IPv6 addresses in the input are skipped.
 */
import { createHash } from 'node:crypto';
import { parseIpv4 } from './ipv4.js';

export type L4Protocol = 'TCP' | 'UDP' | 'SCTP';

export interface ServiceEndpointRule {
  readonly ip: string;
  readonly port: number;
}

export interface ServicePortRule {
  readonly name: string;
  readonly protocol: L4Protocol;
  readonly port: number;
  readonly nodePort: number | undefined;
  readonly clusterEndpoints: readonly ServiceEndpointRule[];
  readonly externalEndpoints: readonly ServiceEndpointRule[];
}

/** One Service as the agent's service model describes it (structurally its `ProxyService`). */
export interface ServiceRule {
  readonly namespace: string;
  readonly name: string;
  readonly clusterIPs: readonly string[];
  readonly externalIPs: readonly string[];
  readonly affinitySeconds: number | undefined;
  readonly ports: readonly ServicePortRule[];
}

/** Chains and sets a table holds now (from `nft -j list table`), so stale ones are deleted. */
export interface ExistingTable {
  readonly chains: readonly string[];
  readonly sets: readonly string[];
}

export interface RouterTableInput {
  readonly table: string;
  /** The network's subnet: sources that are masqueraded on hairpin and egress. */
  readonly subnet: string;
  readonly gatewayDevice: string;
  readonly uplinkDevice: string;
  /** The router's uplink address: NodePort traffic arrives there from the node. */
  readonly nodePortAddress: string;
  readonly services: readonly ServiceRule[];
  readonly existing?: ExistingTable | undefined;
}

export interface HostPortRule {
  readonly protocol: L4Protocol;
  readonly hostPort: number;
  readonly hostIp?: string | undefined;
  readonly podIp: string;
  readonly containerPort: number;
}

export interface NodeTableInput {
  readonly table: string;
  /** The node's end of the router's uplink. */
  readonly uplink: string;
  /** The uplink's subnet (both ends), masqueraded when it leaves the node elsewhere. */
  readonly transitCidr: string;
  readonly routerAddress: string;
  readonly hostPorts: readonly HostPortRule[];
  readonly nodePorts: readonly { readonly protocol: L4Protocol; readonly port: number }[];
}

const proto = (p: L4Protocol): string => p.toLowerCase();
const isIpv4 = (ip: string): boolean => parseIpv4(ip) !== undefined;

function id(...parts: (string | number)[]): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 12);
}

/** nft string literal of a name we generated or that passed API validation (no quotes inside). */
function quote(name: string): string {
  return `"${name.replace(/["\\]/g, '')}"`;
}

function preamble(table: string, existing: ExistingTable | undefined, keep: ExistingTable): string[] {
  const lines = [`table ip ${table} {}`, `flush table ip ${table}`];
  for (const c of existing?.chains ?? [])
    if (!keep.chains.includes(c)) lines.push(`delete chain ip ${table} ${c}`);
  for (const s of existing?.sets ?? []) if (!keep.sets.includes(s)) lines.push(`delete set ip ${table} ${s}`);
  return lines;
}

interface Chain {
  readonly name: string;
  readonly header?: string;
  readonly rules: string[];
}

function render(table: string, sets: readonly string[], chains: readonly Chain[]): string[] {
  const out = [`table ip ${table} {`];
  out.push(...sets.map((s) => `  ${s}`));
  for (const c of chains) {
    out.push(`  chain ${c.name} {`);
    if (c.header) out.push(`    ${c.header}`);
    out.push(...c.rules.map((r) => `    ${r}`));
    out.push('  }');
  }
  out.push('}');
  return out;
}

/** The router table of a network (see the module comment). */
export function routerTableScript(input: RouterTableInput): string {
  const sets: { name: string; decl: string }[] = [];
  const chains: Chain[] = [];
  const dispatch: string[] = [];
  const rejects: string[] = [];

  /** A chain balancing over `endpoints`; returns its name. */
  const balance = (
    svc: ServiceRule,
    port: ServicePortRule,
    scope: 'cluster' | 'external',
    endpoints: readonly ServiceEndpointRule[],
  ): string => {
    const key = [svc.namespace, svc.name, port.name, port.protocol, scope];
    const name = `svc_${id(...key)}`;
    const l4 = proto(port.protocol);
    const rules: string[] = [`# ${svc.namespace}/${svc.name}:${port.name || port.port} ${scope}`];
    const epChains = endpoints.map((ep) => {
      const epName = `ep_${id(...key, ep.ip, ep.port)}`;
      const epRules: string[] = [];
      if (svc.affinitySeconds !== undefined) {
        // Named after the endpoint and the timeout: a set survives syncs (and keeps who sticks
        // to the endpoint) while both stay; a changed timeout is a new set.
        const setName = `aff_${id(...key, ep.ip, ep.port, svc.affinitySeconds)}`;
        sets.push({
          name: setName,
          decl: `set ${setName} { type ipv4_addr; flags dynamic,timeout; timeout ${svc.affinitySeconds}s; }`,
        });
        rules.push(`ip saddr @${setName} meta l4proto ${l4} dnat to ${ep.ip}:${ep.port}`);
        epRules.push(`update @${setName} { ip saddr }`);
      }
      epRules.push(`meta l4proto ${l4} dnat to ${ep.ip}:${ep.port}`);
      chains.push({ name: epName, rules: epRules });
      return epName;
    });
    if (epChains.length === 1) rules.push(`jump ${epChains[0] ?? ''}`);
    else {
      const map = epChains.map((c, i) => `${i} : jump ${c}`).join(', ');
      rules.push(`numgen random mod ${epChains.length} vmap { ${map} }`);
    }
    chains.push({ name, rules });
    return name;
  };

  const reject = (ip: string, port: ServicePortRule, dport: number): void => {
    const l4 = proto(port.protocol);
    rejects.push(
      `ip daddr ${ip} ${l4} dport ${dport} ${port.protocol === 'TCP' ? 'reject with tcp reset' : 'reject'}`,
    );
  };

  for (const svc of input.services) {
    const clusterIPs = svc.clusterIPs.filter(isIpv4);
    const externalIPs = svc.externalIPs.filter(isIpv4);
    for (const port of svc.ports) {
      const l4 = proto(port.protocol);
      const cluster = port.clusterEndpoints.filter((e) => isIpv4(e.ip));
      const external = port.externalEndpoints.filter((e) => isIpv4(e.ip));
      const clusterChain = cluster.length > 0 ? balance(svc, port, 'cluster', cluster) : undefined;
      const isExternal = externalIPs.length > 0 || port.nodePort !== undefined;
      const externalChain =
        isExternal && external.length > 0 ? balance(svc, port, 'external', external) : undefined;
      for (const ip of clusterIPs) {
        if (clusterChain) dispatch.push(`ip daddr ${ip} ${l4} dport ${port.port} jump ${clusterChain}`);
        else reject(ip, port, port.port);
      }
      for (const ip of externalIPs) {
        if (externalChain) dispatch.push(`ip daddr ${ip} ${l4} dport ${port.port} jump ${externalChain}`);
        else reject(ip, port, port.port);
      }
      if (port.nodePort !== undefined) {
        if (externalChain) {
          dispatch.push(
            `ip daddr ${input.nodePortAddress} ${l4} dport ${port.nodePort} jump ${externalChain}`,
          );
        } else reject(input.nodePortAddress, port, port.nodePort);
      }
    }
  }

  const gw = quote(input.gatewayDevice);
  const up = quote(input.uplinkDevice);
  const fixed: Chain[] = [
    {
      name: 'nat_prerouting',
      header: 'type nat hook prerouting priority dstnat; policy accept;',
      rules: ['jump services'],
    },
    {
      name: 'nat_output',
      header: 'type nat hook output priority -100; policy accept;',
      rules: ['jump services'],
    },
    { name: 'services', rules: dispatch },
    {
      name: 'filter_forward',
      header: 'type filter hook forward priority filter; policy accept;',
      rules: ['jump no_endpoints'],
    },
    {
      name: 'filter_output',
      header: 'type filter hook output priority filter; policy accept;',
      rules: ['jump no_endpoints'],
    },
    { name: 'no_endpoints', rules: rejects },
    {
      name: 'nat_postrouting',
      header: 'type nat hook postrouting priority srcnat; policy accept;',
      rules: [
        // Hairpin: a pod reaching a Service whose endpoint sits on the same bridge must see the
        // reply come back through the router (which un-DNATs it), not straight from the endpoint.
        `ct status dnat ip saddr ${input.subnet} oifname ${gw} masquerade`,
        // Egress: pods leave through the node with the router's uplink address.
        `oifname ${up} ip saddr ${input.subnet} masquerade`,
      ],
    },
  ];
  const allChains = [...fixed, ...chains];
  const uniqueSets = [...new Map(sets.map((s) => [s.name, s.decl])).entries()];
  const keep: ExistingTable = { chains: allChains.map((c) => c.name), sets: uniqueSets.map(([n]) => n) };
  return [
    ...preamble(input.table, input.existing, keep),
    ...render(
      input.table,
      uniqueSets.map(([, d]) => d),
      allChains,
    ),
    '',
  ].join('\n');
}

/** The node-side table of a network (see the module comment). */
export function nodeTableScript(input: NodeTableInput): string {
  const ports: string[] = [];
  for (const hp of input.hostPorts) {
    if (!isIpv4(hp.podIp)) continue;
    const l4 = proto(hp.protocol);
    const daddr = hp.hostIp && hp.hostIp !== '0.0.0.0' && isIpv4(hp.hostIp) ? `ip daddr ${hp.hostIp} ` : '';
    ports.push(
      `${daddr}${l4} dport ${hp.hostPort} meta l4proto ${l4} dnat to ${hp.podIp}:${hp.containerPort}`,
    );
  }
  for (const np of input.nodePorts) {
    const l4 = proto(np.protocol);
    ports.push(`${l4} dport ${np.port} meta l4proto ${l4} dnat to ${input.routerAddress}:${np.port}`);
  }
  const chains: Chain[] = [
    {
      name: 'nat_prerouting',
      header: 'type nat hook prerouting priority dstnat; policy accept;',
      rules: ['fib daddr type local jump node_ports'],
    },
    {
      name: 'nat_output',
      header: 'type nat hook output priority -100; policy accept;',
      rules: ['fib daddr type local jump node_ports'],
    },
    { name: 'node_ports', rules: ports },
    {
      name: 'nat_postrouting',
      header: 'type nat hook postrouting priority srcnat; policy accept;',
      rules: [`ip saddr ${input.transitCidr} oifname != ${quote(input.uplink)} masquerade`],
    },
  ];
  return [
    `table ip ${input.table} {}`,
    `flush table ip ${input.table}`,
    ...render(input.table, [], chains),
    '',
  ].join('\n');
}
