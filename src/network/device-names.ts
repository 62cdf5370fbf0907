/**
 * Names of what the network layer creates on a node. Linux interface names are at most 15
 * characters and network namespace names share one directory (`/run/netns`) across every
 * node running on the machine, so names are short hashes of what makes them unique: the node
 * and the network for a network's devices, the pod's uid for a pod's. A prefix per kind makes
 * them recognisable (`ip link` shows `h8b…` bridges, `h8v…` pod veths, `h8t…` taps).
 */
import { createHash } from 'node:crypto';

function hash(parts: readonly string[], hexChars: number): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, hexChars);
}

/** The devices and namespaces of one network on one node. */
export interface NetworkDeviceNames {
  /** The network's bridge on the node (in the node's own netns). */
  readonly bridge: string;
  /** The network's router namespace (a name under /run/netns). */
  readonly routerNetns: string;
  /** The bridge's end of the veth whose other end (`routerGatewayDevice`) holds the gateway. */
  readonly bridgePort: string;
  /** The node's end of the router's uplink veth. */
  readonly uplink: string;
  /** Inside the router namespace. */
  readonly routerGatewayDevice: 'gw0';
  readonly routerUplinkDevice: 'up0';
  /** The nftables table (in the router netns and in the node's netns). */
  readonly table: string;
}

export function networkDeviceNames(nodeName: string, network: string): NetworkDeviceNames {
  const h = hash([nodeName, network], 12);
  return {
    bridge: `h8b${h}`,
    routerNetns: `h8s-router-${h}`,
    bridgePort: `h8g${h}`,
    uplink: `h8u${h}`,
    routerGatewayDevice: 'gw0',
    routerUplinkDevice: 'up0',
    table: `h8s-${network}`,
  };
}

/** The devices of one pod. */
export interface PodDeviceNames {
  /** runc pods: the pinned network namespace the runtime joins (`/run/netns/<name>`). */
  readonly netns: string;
  /** runc pods: the node's end of the pod's veth (the pod's end is `eth0`). */
  readonly veth: string;
  /** VM pods: the tap the VM's NIC is backed by. */
  readonly tap: string;
  /** A stable, locally administered unicast MAC of the pod's `eth0`. */
  readonly mac: string;
}

export function podDeviceNames(podKey: string): PodDeviceNames {
  const h = hash([podKey], 12);
  const m = hash(['mac', podKey], 10);
  return {
    netns: `h8s-pod-${h}`,
    veth: `h8v${h}`,
    tap: `h8t${h}`,
    // 0x02: locally administered, unicast.
    mac: ['02', ...(m.match(/../g) ?? [])].join(':'),
  };
}
