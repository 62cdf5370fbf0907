/**
 * The agent's side of the pod network (DESIGN.md "Network"): it maps a pod to its Network (its
 * namespace's `spec.network`, else `default`), claims this node's block of that Network
 * through the API (`node-block.ts`), has the network layer (`NodeNetwork`) plumb the node and
 * the pod, and hands the runtime the result: runc pods join a pinned namespace holding their
 * veth, VM pods get a tap as their NIC's host device and configure the address in the guest.
 *
 * It is also the Service proxy's programmer: each network's desired Service table goes to that
 * network's router table on this node.
 *
 * Recovery (docs/agent.md): `recover` runs before the pod workers; it sets up every network
 * this node has addresses in and frees the addresses (and devices) of pods the runtime no
 * longer has, so a crash between "sandbox removed" and "address freed" leaks nothing.
 */
import { readdir } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import type { KubeObject, Pod } from '../../api/index.js';
import { builtinResources, type ApiClient } from '../../client/index.js';
import { describeError, isNotFound, type Logger } from '../../lib/index.js';
import {
  formatIpv4Cidr,
  parseIpv4Cidr,
  type HostPortMapping,
  type NodeNetwork,
  type ServiceRule,
} from '../../network/index.js';
import type { RuntimeHandlerName, SandboxNetwork } from '../../runtime/index.js';
import type { PodNetworking } from '../pods/pod-worker.js';
import type { ServiceProgrammer } from '../proxy/service-proxy.js';
import { claimNodeBlock } from './node-block.js';

export interface PlumbedPodNetworkingOptions {
  readonly client: ApiClient;
  readonly network: NodeNetwork;
  readonly nodeName: string;
  /** Where NodeNetwork keeps its pools (one folder per network), read by `recover`. */
  readonly stateDir: string;
  readonly log: Logger;
  /** Size of each node's block; default 24. */
  readonly blockPrefixLength?: number;
  readonly mtu?: number;
}

type NamespaceObject = KubeObject & { spec?: { network?: string } };

/**
 * The router's uplink /30 of a network, in 198.18.0.0/15 (RFC 2544, never routed on the
 * internet): derived from the network's name, so it needs no allocation. Two networks on one
 * node whose names hash alike would share it; with 32768 slots that is rare, and an allocated
 * transit (like the blocks) replaces this when tenant networks arrive in numbers.
 */
export function transitCidrFor(network: string): string {
  const slot = createHash('sha256').update(network).digest().readUInt16BE(0) % 32768;
  const base = parseIpv4Cidr('198.18.0.0/15').network;
  return formatIpv4Cidr({ network: base + slot * 4, prefixLength: 30 });
}

export function hostPortsOf(pod: Pod): HostPortMapping[] {
  const out: HostPortMapping[] = [];
  for (const c of pod.spec?.containers ?? []) {
    for (const p of c.ports ?? []) {
      if (!p.hostPort || !p.containerPort) continue;
      const protocol = p.protocol === 'UDP' || p.protocol === 'SCTP' ? p.protocol : 'TCP';
      out.push({
        protocol,
        hostPort: p.hostPort,
        containerPort: p.containerPort,
        ...(p.hostIP ? { hostIp: p.hostIP } : {}),
      });
    }
  }
  return out;
}

export class PlumbedPodNetworking implements PodNetworking, ServiceProgrammer {
  readonly #o: PlumbedPodNetworkingOptions;

  constructor(options: PlumbedPodNetworkingOptions) {
    this.#o = options;
  }

  /** Sets the network up on this node (claiming its block first). Idempotent. */
  async ensureNetwork(name: string): Promise<void> {
    if (this.#o.network.isReady(name)) return;
    const { subnet, block } = await claimNodeBlock(
      this.#o.client,
      name,
      this.#o.nodeName,
      this.#o.blockPrefixLength ?? 24,
    );
    await this.#o.network.ensureNetwork({
      name,
      subnet,
      block,
      transitCidr: transitCidrFor(name),
      ...(this.#o.mtu ? { mtu: this.#o.mtu } : {}),
    });
  }

  async #networkOf(pod: Pod): Promise<string> {
    const ns = pod.metadata?.namespace ?? 'default';
    try {
      const obj = await this.#o.client.resource<NamespaceObject>(builtinResources.namespaces).get(ns);
      return obj.spec?.network || 'default';
    } catch (err) {
      if (isNotFound(err)) return 'default';
      throw err;
    }
  }

  async setUp(
    pod: Pod,
    handler: RuntimeHandlerName,
  ): Promise<{ network: SandboxNetwork | undefined; podIPs: string[] }> {
    const uid = pod.metadata?.uid ?? '';
    const name = await this.#networkOf(pod);
    await this.ensureNetwork(name);
    const a = await this.#o.network.attachPod(name, uid, {
      kind: handler === 'hyper' ? 'tap' : 'veth',
      hostPorts: hostPortsOf(pod),
    });
    const network: SandboxNetwork = {
      ...(a.netnsPath ? { netnsPath: a.netnsPath } : {}),
      interfaces: [
        {
          name: a.interfaceName,
          ...(a.netnsPath ? {} : { hostDevice: a.hostDevice }),
          mac: a.mac,
          addresses: [`${a.ip}/${a.prefixLength}`],
          ...(a.mtu ? { mtu: a.mtu } : {}),
        },
      ],
      routes: [{ destination: 'default', gateway: a.gateway, device: a.interfaceName }],
    };
    return { network, podIPs: [a.ip] };
  }

  async tearDown(podUid: string): Promise<void> {
    await this.#o.network.detachPod(podUid);
  }

  /**
   * Sets up the default network and every network this node holds addresses in, and frees
   * the addresses of pods the runtime no longer has.
   */
  async recover(livePodUids: ReadonlySet<string>): Promise<void> {
    let names: string[] = [];
    try {
      names = (await readdir(this.#o.stateDir, { withFileTypes: true }))
        .filter((d) => d.isDirectory())
        .map((d) => d.name);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    for (const name of new Set(['default', ...names])) {
      try {
        await this.ensureNetwork(name);
        const freed = await this.#o.network.releaseAllBut(name, livePodUids);
        if (freed.length > 0)
          this.#o.log.info('Freed addresses of pods gone', { network: name, pods: freed });
      } catch (err) {
        this.#o.log.warn('Cannot set up a network on this node', {
          network: name,
          error: describeError(err),
        });
      }
    }
  }

  async syncServices(network: string, services: readonly ServiceRule[]): Promise<void> {
    // A network with no pod on this node yet is set up too: its NodePorts answer here.
    await this.ensureNetwork(network);
    await this.#o.network.syncServices(network, services);
  }
}
