/**
 * Each node's block of a Network's subnet, claimed through the API: the Network object's
 * annotation `h8s.io/node-blocks` maps node names to blocks (`{"node-a":"10.42.0.0/24"}`).
 * A node takes the lowest block nobody holds and writes the annotation with the object's
 * resourceVersion (compare-and-swap): two nodes racing for one block see a Conflict, and the
 * loser reads again and takes the next. A node keeps its block for as long as the Network
 * exists (addresses in it are persisted by the agent), so a restarted agent finds it again.
 *
 * An annotation and not a status field: it needs no schema change, survives status writes of
 * the network controller, and upstream's node IPAM keeps `spec.podCIDR` on the Node the same
 * way, one writer per entry.
 */
import type { KubeObject, Network } from '../../api/index.js';
import { builtinResources, type ApiClient } from '../../client/index.js';
import { invalid, isConflict, unavailable } from '../../lib/index.js';
import { blockAt, formatIpv4Cidr, parseIpv4Cidr } from '../../network/index.js';

export const nodeBlocksAnnotation = 'h8s.io/node-blocks';

export interface NodeBlock {
  /** The Network's subnet (the first IPv4 subnet by name). */
  readonly subnet: string;
  readonly block: string;
}

type NetworkObject = Network & KubeObject;

function blocksOf(net: NetworkObject): Record<string, string> {
  const text = net.metadata.annotations?.[nodeBlocksAnnotation];
  if (!text) return {};
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return {};
    return Object.fromEntries(
      Object.entries(v as Record<string, unknown>).filter(
        (e): e is [string, string] => typeof e[1] === 'string',
      ),
    );
  } catch {
    return {};
  }
}

/** The subnet pods of `net` take addresses from: its first IPv4 subnet by name. */
export function podSubnetOf(net: Network): string | undefined {
  const subnets = net.spec?.subnets ?? {};
  for (const name of Object.keys(subnets).sort()) {
    const cidr = subnets[name]?.cidr;
    if (cidr && /^\d+\.\d+\.\d+\.\d+\/\d+$/.test(cidr)) return cidr;
  }
  return undefined;
}

/**
 * This node's block of `network`: the one it holds, else a newly claimed one.
 * @throws NotFound when the Network does not exist; Invalid when it has no IPv4 subnet;
 *   ServiceUnavailable when every block is taken
 */
export async function claimNodeBlock(
  client: ApiClient,
  network: string,
  nodeName: string,
  blockPrefixLength: number,
): Promise<NodeBlock> {
  const networks = client.resource<NetworkObject>(builtinResources.networks);
  for (let attempt = 0; ; attempt++) {
    const net = await networks.get(network);
    const subnetText = podSubnetOf(net);
    if (!subnetText) throw invalid(`Network "${network}" has no IPv4 subnet for pods`);
    const subnet = parseIpv4Cidr(subnetText);
    const blocks = blocksOf(net);
    const held = blocks[nodeName];
    if (held) return { subnet: formatIpv4Cidr(subnet), block: held };
    const prefix = Math.max(blockPrefixLength, subnet.prefixLength);
    const taken = new Set(Object.values(blocks));
    let free: string | undefined;
    for (let i = 0; ; i++) {
      const b = blockAt(subnet, prefix, i);
      if (!b) break;
      const text = formatIpv4Cidr(b);
      if (!taken.has(text)) {
        free = text;
        break;
      }
    }
    if (!free) throw unavailable(`Network "${network}" has no free /${prefix} block for node "${nodeName}"`);
    const next: NetworkObject = {
      ...net,
      metadata: {
        ...net.metadata,
        annotations: {
          ...net.metadata.annotations,
          [nodeBlocksAnnotation]: JSON.stringify({ ...blocks, [nodeName]: free }),
        },
      },
    };
    try {
      await networks.update(next);
      return { subnet: formatIpv4Cidr(subnet), block: free };
    } catch (err) {
      // Lost the compare-and-swap to another node (or any writer): read again.
      if (isConflict(err) && attempt < 20) continue;
      throw err;
    }
  }
}
