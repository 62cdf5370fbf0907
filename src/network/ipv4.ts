/**
 * IPv4 arithmetic for the network layer: CIDRs as numbers, blocks within a subnet, the n-th
 * address of a block. Pure; the API's own validation (api/validation/ip-address.ts) checks user
 * input, this only computes with values that already passed it.
 */
import { invalid } from '../lib/index.js';

export interface Ipv4Cidr {
  /** The network address as an unsigned 32-bit number. */
  readonly network: number;
  readonly prefixLength: number;
}

export function parseIpv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    value = value * 256 + n;
  }
  return value;
}

export function formatIpv4(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');
}

function maskOf(prefixLength: number): number {
  return prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
}

/** Parses `a.b.c.d/n`; host bits are cleared. @throws Invalid */
export function parseIpv4Cidr(text: string): Ipv4Cidr {
  const [addr, len, extra] = text.split('/');
  const ip = addr === undefined ? undefined : parseIpv4(addr);
  const prefixLength = len !== undefined && /^[0-9]{1,2}$/.test(len) ? Number(len) : NaN;
  if (ip === undefined || extra !== undefined || !(prefixLength >= 0 && prefixLength <= 32)) {
    throw invalid(`Invalid IPv4 CIDR "${text}"`);
  }
  return { network: (ip & maskOf(prefixLength)) >>> 0, prefixLength };
}

export function formatIpv4Cidr(cidr: Ipv4Cidr): string {
  return `${formatIpv4(cidr.network)}/${cidr.prefixLength}`;
}

export function cidrSize(cidr: Ipv4Cidr): number {
  return 2 ** (32 - cidr.prefixLength);
}

export function cidrContainsIp(cidr: Ipv4Cidr, ip: number): boolean {
  return (ip & maskOf(cidr.prefixLength)) >>> 0 === cidr.network;
}

/** The `index`-th block of `prefixLength` inside `subnet`, or undefined past its end. */
export function blockAt(subnet: Ipv4Cidr, prefixLength: number, index: number): Ipv4Cidr | undefined {
  if (prefixLength < subnet.prefixLength || prefixLength > 30) return undefined;
  const count = 2 ** (prefixLength - subnet.prefixLength);
  if (!Number.isInteger(index) || index < 0 || index >= count) return undefined;
  return { network: subnet.network + index * 2 ** (32 - prefixLength), prefixLength };
}

/** The address `offset` into `cidr` (offset 1 is the first host address). */
export function addressAt(cidr: Ipv4Cidr, offset: number): number {
  return cidr.network + offset;
}
