/**
 * network: the node's network primitives (DESIGN.md "Network"): per Network a bridge, a router
 * namespace with the gateway, NAT and Service load balancing in nftables, and per pod a veth
 * (runc) or a tap (VMs) with an address from the node's block. See docs/network.md.
 *
 * What it is not: it knows nothing of Pods, Services or the API. The agent claims each node's
 * block through the API, maps pods to networks and turns Services into `ServiceRule`s.
 *
 * Invariants: every device, namespace and table is named from the node, network or pod key
 * (`device-names.ts`), so several nodes share one machine; an address is never held by two
 * pods (the pool is persisted before an allocation returns); tables are replaced atomically.
 */
export { AddressPool, type AddressAllocation, type HostPortMapping } from './address-pool.js';
export {
  networkDeviceNames,
  podDeviceNames,
  type NetworkDeviceNames,
  type PodDeviceNames,
} from './device-names.js';
export {
  blockAt,
  cidrContainsIp,
  formatIpv4,
  formatIpv4Cidr,
  parseIpv4,
  parseIpv4Cidr,
  type Ipv4Cidr,
} from './ipv4.js';
export {
  nodeTableScript,
  routerTableScript,
  type L4Protocol,
  type ServiceEndpointRule,
  type ServicePortRule,
  type ServiceRule,
} from './nft-ruleset.js';
export {
  NodeNetwork,
  type AttachRequest,
  type Exec,
  type NetworkSpec,
  type NodeNetworkOptions,
  type PodAttachment,
} from './node-network.js';
