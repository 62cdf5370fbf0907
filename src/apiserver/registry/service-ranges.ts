/**
 * The two ranges Services draw from: the service CIDR (cluster IPs, upstream's
 * `--service-cluster-ip-range`) and the node port range (`--service-node-port-range`). Each
 * maps its values to offsets 0..size-1 of a bitmap (`range-bitmap.ts`).
 *
 * IPv4 only for now (the API defaults `ipFamilies` to IPv4); the parsers refuse IPv6 with a
 * message that says so.
 */
import { parseCidr, parseIp } from '../../api/index.js';
import { badRequest } from '../../lib/index.js';

export const defaultServiceCidr = '10.43.0.0/16';
export const defaultNodePortRange = '30000-32767';

/** A service CIDR: offset 0 is the network address, offset size-1 the broadcast address. */
export interface ServiceCidr {
  /** As configured, normalised (`10.43.0.0/16`). */
  readonly text: string;
  /** The network address as an unsigned 32-bit number. */
  readonly base: number;
  readonly prefixLength: number;
  /** Addresses in the CIDR, network and broadcast included. */
  readonly size: number;
}

export interface PortRange {
  /** As configured (`30000-32767`). */
  readonly text: string;
  readonly first: number;
  readonly last: number;
  readonly size: number;
}

/** Upstream refuses IPv4 service ranges wider than /12 (a bitmap of 2^20 bits, 128 KiB). */
const widestPrefixLength = 12;
/** A /30 leaves two addresses: the `kubernetes` Service's and one more. */
const narrowestPrefixLength = 30;

/** `10.43.0.0/16` → the CIDR; host bits are cleared. @throws BadRequest naming the problem */
export function parseServiceCidr(text: string): ServiceCidr {
  const cidr = parseCidr(text.trim());
  if (!cidr) throw badRequest(`Invalid service CIDR "${text}": expected an IPv4 CIDR such as 10.43.0.0/16`);
  if (cidr.family !== 4) {
    throw badRequest(`Invalid service CIDR "${text}": only IPv4 service CIDRs are supported`);
  }
  const prefixLength = cidr.prefixLength;
  if (prefixLength < widestPrefixLength || prefixLength > narrowestPrefixLength) {
    throw badRequest(
      `Invalid service CIDR "${text}": the prefix length must be from /${widestPrefixLength} to /${narrowestPrefixLength}`,
    );
  }
  const size = 2 ** (32 - prefixLength);
  const base = Number(cidr.network);
  return { text: `${numberToIpv4(base)}/${prefixLength}`, base, prefixLength, size };
}

/** `30000-32767` → the range (both ends included). @throws BadRequest naming the problem */
export function parsePortRange(text: string): PortRange {
  const m = /^\s*(\d{1,5})\s*-\s*(\d{1,5})\s*$/.exec(text);
  const first = Number(m?.[1]);
  const last = Number(m?.[2]);
  if (!m || first < 1 || last > 65535 || first > last) {
    throw badRequest(
      `Invalid node port range "${text}": expected FIRST-LAST with 1 <= FIRST <= LAST <= 65535, e.g. 30000-32767`,
    );
  }
  return { text: `${first}-${last}`, first, last, size: last - first + 1 };
}

/** The address the `kubernetes` Service gets: the first after the network address. */
export function kubernetesServiceIp(cidr: ServiceCidr): string {
  return numberToIpv4(cidr.base + 1);
}

/**
 * The offset of `ip` in the CIDR when it may be allocated (inside, not the network or broadcast
 * address), else undefined. Undefined also for what is not an IPv4 address.
 */
export function ipOffset(cidr: ServiceCidr, ip: string): number | undefined {
  const parsed = parseIp(ip);
  if (!parsed || parsed.family !== 4) return undefined;
  const offset = Number(parsed.value) - cidr.base;
  return offset >= 1 && offset <= cidr.size - 2 ? offset : undefined;
}

export function ipAtOffset(cidr: ServiceCidr, offset: number): string {
  return numberToIpv4(cidr.base + offset);
}

/** The offset of a port in the range, else undefined. */
export function portOffset(range: PortRange, port: number): number | undefined {
  return Number.isInteger(port) && port >= range.first && port <= range.last ? port - range.first : undefined;
}

function numberToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}
