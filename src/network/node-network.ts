/**
 * The network plumbing of one node (DESIGN.md "Network"): per Network a bridge in the node's
 * namespace, a router namespace holding the gateway address of the node's block (a veth
 * `gw0` on the bridge) and an uplink veth (`up0`) to the node, IP forwarding and masquerade in
 * the router, a route to the block on the node; per pod a veth into a pinned namespace (runc)
 * or a tap (VMs) on the bridge, with an address from the node's block (`AddressPool`); per
 * network two nftables tables (`nft-ruleset.ts`). Everything is idempotent: `ensureNetwork`
 * and `attachPod` may run again after a crash at any step.
 *
 * It knows nothing of Pods or the API: a pod is a key (the agent uses its uid), a network a
 * name with a subnet and this node's block. The agent claims the block and decides which
 * network a pod joins. Nothing here is wired to one network: each is its own bridge, router,
 * pool and tables, so tenant networks (overlapping subnets included) sit side by side; only
 * the node's routes to the blocks need distinct blocks (the default network's).
 *
 * Tenants cannot reach what this changes: pods see only their own netns or tap; the router
 * and node tables are built from API objects validated upstream, never from guest input.
 */
import { access, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  describeError,
  execFile,
  isRecord,
  unavailable,
  type ExecOptions,
  type ExecResult,
  type Logger,
} from '../lib/index.js';
import { AddressPool, type AddressAllocation, type HostPortMapping } from './address-pool.js';
import { networkDeviceNames, podDeviceNames, type NetworkDeviceNames } from './device-names.js';
import { addressAt, formatIpv4, formatIpv4Cidr, parseIpv4Cidr } from './ipv4.js';
import {
  nodeTableScript,
  routerTableScript,
  type ExistingTable,
  type L4Protocol,
  type ServiceRule,
} from './nft-ruleset.js';

export type Exec = (argv: readonly string[], options?: ExecOptions) => Promise<ExecResult>;

export interface NetworkSpec {
  /** The Network's name (`default`, a tenant's). */
  readonly name: string;
  /** The Network's subnet (all nodes' blocks). */
  readonly subnet: string;
  /** This node's block of the subnet; its first address is the gateway. */
  readonly block: string;
  /** A /30 for the router's uplink: the node holds the first address, the router the second. */
  readonly transitCidr: string;
  readonly mtu?: number;
}

export interface NodeNetworkOptions {
  readonly nodeName: string;
  /** Where the address pools live: `<stateDir>/<network>/addresses.json`. */
  readonly stateDir: string;
  readonly log: Logger;
  /** Runs `ip`, `nft`, `sysctl`; defaults to lib's execFile. */
  readonly exec?: Exec;
  /**
   * The node's namespace when the agent does not run inside it (tests); node-side commands
   * then run through `ip netns exec`. Absent: the agent's own namespace is the node's.
   */
  readonly nodeNetns?: string;
  /** Where pinned namespaces live; default /run/netns (what `ip netns` uses). */
  readonly netnsDir?: string;
}

/** What a pod got from `attachPod`, for the runtime's sandbox config. */
export interface PodAttachment {
  readonly network: string;
  readonly ip: string;
  readonly prefixLength: number;
  readonly gateway: string;
  readonly mac: string;
  /** The pod's interface name (inside the netns, or in the guest). */
  readonly interfaceName: 'eth0';
  /** VM pods: the tap; runc pods: the node's end of the veth. */
  readonly hostDevice: string;
  /** runc pods: the pinned namespace to join. */
  readonly netnsPath: string | undefined;
  readonly mtu: number | undefined;
}

export interface AttachRequest {
  readonly kind: 'veth' | 'tap';
  readonly hostPorts?: readonly HostPortMapping[];
}

interface NetworkState {
  readonly spec: NetworkSpec;
  readonly names: NetworkDeviceNames;
  readonly pool: AddressPool;
  readonly nodeAddress: string;
  readonly routerAddress: string;
  nodePorts: { protocol: L4Protocol; port: number }[];
}

export class NodeNetwork {
  readonly #o: NodeNetworkOptions;
  readonly #exec: Exec;
  readonly #networks = new Map<string, NetworkState>();
  readonly #pending = new Map<string, Promise<NetworkState>>();
  #nodeTableTail: Promise<unknown> = Promise.resolve();

  constructor(options: NodeNetworkOptions) {
    this.#o = options;
    this.#exec = options.exec ?? execFile;
  }

  get netnsDir(): string {
    return this.#o.netnsDir ?? '/run/netns';
  }

  /** Names of the networks set up on this node by this process. */
  listNetworks(): string[] {
    return [...this.#networks.keys()];
  }

  isReady(network: string): boolean {
    return this.#networks.has(network);
  }

  /**
   * Creates (or repairs) the network's bridge, router namespace, uplink and tables on this
   * node and opens its address pool. Idempotent; concurrent calls for one network share one run.
   * @throws Conflict when the pool on disk belongs to another block
   */
  ensureNetwork(spec: NetworkSpec): Promise<void> {
    const known = this.#networks.get(spec.name);
    if (known && known.spec.block === spec.block) return Promise.resolve();
    let run = this.#pending.get(spec.name);
    if (!run) {
      run = this.#ensure(spec).finally(() => this.#pending.delete(spec.name));
      this.#pending.set(spec.name, run);
    }
    return run.then(() => undefined);
  }

  async #ensure(spec: NetworkSpec): Promise<NetworkState> {
    const names = networkDeviceNames(this.#o.nodeName, spec.name);
    const block = parseIpv4Cidr(spec.block);
    const transit = parseIpv4Cidr(spec.transitCidr);
    const dir = join(this.#o.stateDir, spec.name);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const pool = await AddressPool.open(join(dir, 'addresses.json'), formatIpv4Cidr(block));
    const nodeAddress = formatIpv4(addressAt(transit, 1));
    const routerAddress = formatIpv4(addressAt(transit, 2));
    const r = names.routerNetns;
    const mtu = spec.mtu ? ['mtu', String(spec.mtu)] : [];

    // PRIVILEGED: a network namespace of its own for the network's router: the tenant's
    // gateway, NAT and Service rules live there, apart from the node's and other tenants'.
    if (!(await this.#netnsExists(r))) await this.#run(['ip', 'netns', 'add', r]);
    await this.#run(['ip', 'netns', 'exec', r, 'ip', 'link', 'set', 'lo', 'up']);
    // PRIVILEGED: forwarding inside the router namespace only; no redirects, since hairpin
    // traffic leaves through the interface it came in on by design.
    await this.#run([
      'ip',
      'netns',
      'exec',
      r,
      'sysctl',
      '-qw',
      'net.ipv4.ip_forward=1',
      'net.ipv4.conf.all.send_redirects=0',
      'net.ipv4.conf.default.send_redirects=0',
    ]);
    // PRIVILEGED: the network's bridge on the node; it has no address, so the node is not on
    // the tenant's segment (it reaches pods through the router like anyone else).
    if (!(await this.#linkExists(names.bridge))) {
      await this.#node(['ip', 'link', 'add', names.bridge, ...mtu, 'type', 'bridge']);
    }
    await this.#node(['ip', 'link', 'set', names.bridge, 'up']);
    // PRIVILEGED: the router's leg on the bridge, holding the gateway address of the block.
    if (!(await this.#linkExists(names.bridgePort))) {
      await this.#node([
        'ip',
        'link',
        'add',
        names.bridgePort,
        ...mtu,
        'type',
        'veth',
        'peer',
        'name',
        names.routerGatewayDevice,
        'netns',
        r,
      ]);
    }
    await this.#node(['ip', 'link', 'set', names.bridgePort, 'master', names.bridge, 'up']);
    await this.#run([
      'ip',
      'netns',
      'exec',
      r,
      'ip',
      'addr',
      'replace',
      `${pool.gateway}/${pool.prefixLength}`,
      'dev',
      names.routerGatewayDevice,
    ]);
    await this.#run(['ip', 'netns', 'exec', r, 'ip', 'link', 'set', names.routerGatewayDevice, 'up']);
    // PRIVILEGED: the router's uplink to the node, a point-to-point /30.
    if (!(await this.#linkExists(names.uplink))) {
      await this.#node([
        'ip',
        'link',
        'add',
        names.uplink,
        'type',
        'veth',
        'peer',
        'name',
        names.routerUplinkDevice,
        'netns',
        r,
      ]);
    }
    await this.#node([
      'ip',
      'addr',
      'replace',
      `${nodeAddress}/${transit.prefixLength}`,
      'dev',
      names.uplink,
    ]);
    await this.#node(['ip', 'link', 'set', names.uplink, 'up']);
    await this.#run([
      'ip',
      'netns',
      'exec',
      r,
      'ip',
      'addr',
      'replace',
      `${routerAddress}/${transit.prefixLength}`,
      'dev',
      names.routerUplinkDevice,
    ]);
    await this.#run(['ip', 'netns', 'exec', r, 'ip', 'link', 'set', names.routerUplinkDevice, 'up']);
    await this.#run([
      'ip',
      'netns',
      'exec',
      r,
      'ip',
      'route',
      'replace',
      'default',
      'via',
      nodeAddress,
      'dev',
      names.routerUplinkDevice,
    ]);
    // PRIVILEGED: the node routes the block to the router (pods are reachable from the node).
    await this.#node([
      'ip',
      'route',
      'replace',
      formatIpv4Cidr(block),
      'via',
      routerAddress,
      'dev',
      names.uplink,
    ]);
    // PRIVILEGED: forwarding on the node, for hostPort, NodePort and egress traffic; the node's
    // table masquerades only what comes from the router's uplink.
    await this.#node(['sysctl', '-qw', 'net.ipv4.ip_forward=1']);

    const state: NetworkState = {
      spec,
      names,
      pool,
      nodeAddress,
      routerAddress,
      nodePorts: [],
    };
    // A router table left by the previous agent keeps serving until the Service proxy's first
    // sync replaces it: Services do not blink when the agent restarts.
    const table = await this.#run(['ip', 'netns', 'exec', r, 'nft', 'list', 'table', 'ip', names.table], {
      check: false,
    });
    if (table.exitCode !== 0) await this.#programRouter(state, []);
    await this.#programNode(state);
    this.#networks.set(spec.name, state);
    this.#o.log.info('Network ready on node', {
      network: spec.name,
      block: pool.block,
      bridge: names.bridge,
      router: r,
    });
    return state;
  }

  /**
   * Plumbs a pod into `network` (set up first with `ensureNetwork`): an address from the
   * node's block, a veth into a pinned namespace (`kind: 'veth'`, runc) or a tap (`'tap'`,
   * VMs) on the bridge, the gateway route, and its host ports. Idempotent per `podKey`.
   * @throws ServiceUnavailable when the network is not set up here or its block is full
   */
  async attachPod(network: string, podKey: string, request: AttachRequest): Promise<PodAttachment> {
    const net = this.#networks.get(network);
    if (!net) throw unavailable(`Network "${network}" is not set up on this node`);
    const alloc = await net.pool.allocate(podKey, { kind: request.kind, hostPorts: request.hostPorts ?? [] });
    const dev = podDeviceNames(podKey);
    const mtu = net.spec.mtu ? ['mtu', String(net.spec.mtu)] : [];
    if (alloc.kind === 'veth') {
      // PRIVILEGED: the pod's own pinned network namespace, joined by the runtime (runc).
      if (!(await this.#netnsExists(dev.netns))) await this.#run(['ip', 'netns', 'add', dev.netns]);
      const inPod = (argv: string[]): Promise<unknown> =>
        this.#run(['ip', 'netns', 'exec', dev.netns, ...argv]);
      if (!(await this.#linkExists(dev.veth))) {
        // PRIVILEGED: a veth pair, one end `eth0` in the pod's namespace, the other on the
        // bridge; a pod can only send on its own segment through it.
        await this.#node([
          'ip',
          'link',
          'add',
          dev.veth,
          ...mtu,
          'type',
          'veth',
          'peer',
          'name',
          'eth0',
          'netns',
          dev.netns,
        ]);
      }
      await this.#node(['ip', 'link', 'set', dev.veth, 'master', net.names.bridge, 'up']);
      await inPod(['ip', 'link', 'set', 'lo', 'up']);
      await inPod(['ip', 'link', 'set', 'eth0', 'address', dev.mac]);
      await inPod(['ip', 'addr', 'replace', `${alloc.ip}/${net.pool.prefixLength}`, 'dev', 'eth0']);
      await inPod(['ip', 'link', 'set', 'eth0', 'up']);
      await inPod(['ip', 'route', 'replace', 'default', 'via', net.pool.gateway, 'dev', 'eth0']);
    } else {
      if (!(await this.#linkExists(dev.tap))) {
        // PRIVILEGED: a tap for the VM's NIC on the bridge; the guest sees only its own NIC.
        await this.#node(['ip', 'tuntap', 'add', 'dev', dev.tap, 'mode', 'tap']);
      }
      if (net.spec.mtu) await this.#node(['ip', 'link', 'set', dev.tap, 'mtu', String(net.spec.mtu)]);
      await this.#node(['ip', 'link', 'set', dev.tap, 'master', net.names.bridge, 'up']);
    }
    if (alloc.hostPorts.length > 0) await this.#programNode(net);
    return {
      network,
      ip: alloc.ip,
      prefixLength: net.pool.prefixLength,
      gateway: net.pool.gateway,
      mac: dev.mac,
      interfaceName: 'eth0',
      hostDevice: alloc.kind === 'veth' ? dev.veth : dev.tap,
      netnsPath: alloc.kind === 'veth' ? join(this.netnsDir, dev.netns) : undefined,
      mtu: net.spec.mtu,
    };
  }

  /** The attachment of a pod, if it has one on a network set up here. */
  findPod(podKey: string): { network: string; allocation: AddressAllocation } | undefined {
    for (const [name, net] of this.#networks) {
      const a = net.pool.find(podKey);
      if (a) return { network: name, allocation: a };
    }
    return undefined;
  }

  /** Removes the pod's devices, namespace and host ports and frees its address. Idempotent. */
  async detachPod(podKey: string): Promise<void> {
    for (const net of this.#networks.values()) {
      const alloc = net.pool.find(podKey);
      if (!alloc) continue;
      await this.#removePodDevices(podKey);
      await net.pool.release(podKey);
      if (alloc.hostPorts.length > 0) await this.#programNode(net);
    }
    // Devices of a pod with no address any more (a crash between release and removal).
    await this.#removePodDevices(podKey);
  }

  /**
   * Recovery: detaches every pod of `network` whose key is not in `liveKeys` (the runtime no
   * longer has it). Returns the keys freed.
   */
  async releaseAllBut(network: string, liveKeys: ReadonlySet<string>): Promise<string[]> {
    const net = this.#networks.get(network);
    if (!net) return [];
    const freed: string[] = [];
    for (const a of net.pool.list()) {
      if (liveKeys.has(a.owner)) continue;
      await this.detachPod(a.owner);
      freed.push(a.owner);
    }
    return freed;
  }

  /** Replaces the network's Service rules (router table) and node ports (node table) as a whole. */
  async syncServices(network: string, services: readonly ServiceRule[]): Promise<void> {
    const net = this.#networks.get(network);
    if (!net) throw unavailable(`Network "${network}" is not set up on this node`);
    await this.#programRouter(net, services);
    const nodePorts = new Map<string, { protocol: L4Protocol; port: number }>();
    for (const s of services) {
      for (const p of s.ports) {
        if (p.nodePort !== undefined)
          nodePorts.set(`${p.protocol}/${p.nodePort}`, { protocol: p.protocol, port: p.nodePort });
      }
    }
    const next = [...nodePorts.values()].sort(
      (a, b) => a.port - b.port || a.protocol.localeCompare(b.protocol),
    );
    if (JSON.stringify(next) !== JSON.stringify(net.nodePorts)) {
      net.nodePorts = next;
      await this.#programNode(net);
    }
  }

  /**
   * Removes the network from this node: its pods' devices, tables, uplink, bridge and router
   * namespace, and its address pool's records. Idempotent.
   */
  async removeNetwork(spec: Pick<NetworkSpec, 'name'>): Promise<void> {
    const net = this.#networks.get(spec.name);
    if (net) for (const a of net.pool.list()) await this.detachPod(a.owner);
    const names = networkDeviceNames(this.#o.nodeName, spec.name);
    const table = await this.#node(['nft', 'list', 'table', 'ip', names.table], { check: false });
    // PRIVILEGED: removes only what ensureNetwork made, by its derived names.
    if (table.exitCode === 0) await this.#node(['nft', 'delete', 'table', 'ip', names.table]);
    for (const link of [names.uplink, names.bridgePort, names.bridge]) {
      if (await this.#linkExists(link)) await this.#node(['ip', 'link', 'del', link]);
    }
    if (await this.#netnsExists(names.routerNetns))
      await this.#run(['ip', 'netns', 'del', names.routerNetns]);
    this.#networks.delete(spec.name);
  }

  async #removePodDevices(podKey: string): Promise<void> {
    const dev = podDeviceNames(podKey);
    // PRIVILEGED: removes the pod's own devices, by the names derived from its key.
    for (const link of [dev.veth, dev.tap])
      if (await this.#linkExists(link)) await this.#node(['ip', 'link', 'del', link]);
    if (await this.#netnsExists(dev.netns)) await this.#run(['ip', 'netns', 'del', dev.netns]);
  }

  async #programRouter(net: NetworkState, services: readonly ServiceRule[]): Promise<void> {
    const r = net.names.routerNetns;
    const script = routerTableScript({
      table: net.names.table,
      subnet: formatIpv4Cidr(parseIpv4Cidr(net.spec.subnet)),
      gatewayDevice: net.names.routerGatewayDevice,
      uplinkDevice: net.names.routerUplinkDevice,
      nodePortAddress: net.routerAddress,
      services,
      existing: await this.#existingTable(['ip', 'netns', 'exec', r], net.names.table),
    });
    // PRIVILEGED: replaces the network's own table in its router namespace, in one transaction.
    await this.#run(['ip', 'netns', 'exec', r, 'nft', '-f', '-'], { input: script });
  }

  /** Serialised per node: two pods' host ports changing at once must not apply a stale table. */
  #programNode(net: NetworkState): Promise<void> {
    const run = this.#nodeTableTail.then(
      () => this.#applyNodeTable(net),
      () => this.#applyNodeTable(net),
    );
    this.#nodeTableTail = run.catch(() => undefined);
    return run;
  }

  async #applyNodeTable(net: NetworkState): Promise<void> {
    const hostPorts = net.pool.list().flatMap((a) => a.hostPorts.map((hp) => ({ ...hp, podIp: a.ip })));
    const script = nodeTableScript({
      table: net.names.table,
      uplink: net.names.uplink,
      transitCidr: formatIpv4Cidr(parseIpv4Cidr(net.spec.transitCidr)),
      routerAddress: net.routerAddress,
      hostPorts,
      nodePorts: net.nodePorts,
    });
    // PRIVILEGED: replaces the network's own table on the node (hostPort and NodePort DNAT,
    // masquerade of the router's egress), in one transaction; other tables are not touched.
    await this.#node(['nft', '-f', '-'], { input: script });
  }

  async #existingTable(prefix: readonly string[], table: string): Promise<ExistingTable | undefined> {
    const res = await this.#run([...prefix, 'nft', '-j', 'list', 'table', 'ip', table], { check: false });
    if (res.exitCode !== 0) return undefined;
    const chains: string[] = [];
    const sets: string[] = [];
    try {
      const doc = JSON.parse(res.stdout) as unknown;
      const items = isRecord(doc) && Array.isArray(doc.nftables) ? (doc.nftables as unknown[]) : [];
      for (const item of items) {
        if (!isRecord(item)) continue;
        if (isRecord(item.chain) && typeof item.chain.name === 'string') chains.push(item.chain.name);
        if (isRecord(item.set) && typeof item.set.name === 'string') sets.push(item.set.name);
      }
    } catch (err) {
      this.#o.log.warn('Cannot read an nftables table; stale chains stay', {
        table,
        error: describeError(err),
      });
    }
    return { chains, sets };
  }

  async #netnsExists(name: string): Promise<boolean> {
    try {
      await access(join(this.netnsDir, name));
      return true;
    } catch {
      return false;
    }
  }

  async #linkExists(name: string): Promise<boolean> {
    const res = await this.#node(['ip', '-o', 'link', 'show', 'dev', name], { check: false });
    return res.exitCode === 0;
  }

  #run(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    return this.#exec(argv, { timeoutMs: 30_000, ...options });
  }

  /** A command in the node's namespace. */
  #node(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    const ns = this.#o.nodeNetns;
    return this.#run(ns ? ['ip', 'netns', 'exec', ns, ...argv] : argv, options);
  }
}
