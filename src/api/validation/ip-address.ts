/**
 * IP address and CIDR parsing for validation (Network subnets, Service cluster IPs, endpoints).
 * Pure; follows upstream's strict forms (no leading zeros in IPv4 octets).
 */
import { isIPv4, isIPv6 } from 'node:net';

export interface ParsedIp {
  readonly family: 4 | 6;
  /** The address as an unsigned integer (32 or 128 bits). */
  readonly value: bigint;
}

export interface ParsedCidr {
  readonly family: 4 | 6;
  /** The address as written (may have host bits set). */
  readonly address: bigint;
  readonly prefixLength: number;
  /** The network address (host bits cleared). */
  readonly network: bigint;
}

const ipv4StrictRe = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** Parses a textual IPv4 or IPv6 address; undefined when it is not one. */
export function parseIp(text: string): ParsedIp | undefined {
  if (isIPv4(text)) {
    if (!ipv4StrictRe.test(text)) return undefined;
    let v = 0n;
    for (const part of text.split('.')) v = (v << 8n) | BigInt(Number(part));
    return { family: 4, value: v };
  }
  if (isIPv6(text) && !text.includes('%')) {
    return { family: 6, value: ipv6ToBigInt(text) };
  }
  return undefined;
}

function ipv6ToBigInt(text: string): bigint {
  let t = text;
  const lastColon = t.lastIndexOf(':');
  const tail = t.slice(lastColon + 1);
  if (tail.includes('.')) {
    // An embedded IPv4 tail (`::ffff:1.2.3.4`) becomes two hex groups.
    const o = tail.split('.').map(Number) as [number, number, number, number];
    t = `${t.slice(0, lastColon + 1)}${((o[0] << 8) | o[1]).toString(16)}:${((o[2] << 8) | o[3]).toString(16)}`;
  }
  const dbl = t.indexOf('::');
  let groups: string[];
  if (dbl >= 0) {
    const l = dbl === 0 ? [] : t.slice(0, dbl).split(':');
    const r = t.slice(dbl + 2) === '' ? [] : t.slice(dbl + 2).split(':');
    groups = [...l, ...Array<string>(8 - l.length - r.length).fill('0'), ...r];
  } else {
    groups = t.split(':');
  }
  let v = 0n;
  for (const g of groups) v = (v << 16n) | BigInt(parseInt(g, 16));
  return v;
}

/** Parses `a.b.c.d/n` or `x::/n`; undefined when malformed. */
export function parseCidr(text: string): ParsedCidr | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const ip = parseIp(text.slice(0, slash));
  const prefixText = text.slice(slash + 1);
  if (!ip || !/^(0|[1-9]\d{0,2})$/.test(prefixText)) return undefined;
  const prefixLength = Number(prefixText);
  const bits = ip.family === 4 ? 32 : 128;
  if (prefixLength > bits) return undefined;
  const hostBits = BigInt(bits - prefixLength);
  const network = (ip.value >> hostBits) << hostBits;
  return { family: ip.family, address: ip.value, prefixLength, network };
}

/** Whether `ip` lies inside `cidr` (same family). */
export function cidrContains(cidr: ParsedCidr, ip: ParsedIp): boolean {
  if (cidr.family !== ip.family) return false;
  const bits = cidr.family === 4 ? 32 : 128;
  const hostBits = BigInt(bits - cidr.prefixLength);
  return ip.value >> hostBits === cidr.network >> hostBits;
}

/** Whether two CIDRs share any address. */
export function cidrsOverlap(a: ParsedCidr, b: ParsedCidr): boolean {
  if (a.family !== b.family) return false;
  const bits = a.family === 4 ? 32 : 128;
  const shorter = Math.min(a.prefixLength, b.prefixLength);
  const hostBits = BigInt(bits - shorter);
  return a.network >> hostBits === b.network >> hostBits;
}

/** Upstream's message for a malformed IP address. */
export const IP_INVALID_MESSAGE = 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)';
/** Upstream's message for a malformed CIDR. */
export const CIDR_INVALID_MESSAGE = 'must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)';
