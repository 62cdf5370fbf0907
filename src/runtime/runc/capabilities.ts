/**
 * Linux capabilities of runc containers: Docker's default set, the full list (privileged
 * containers, validation) and CRI add/drop semantics ("ALL" allowed on both sides).
 */
import type { StatusCause } from '../../lib/index.js';

/** Every capability the kernel defines (capability.h, up to CAP_CHECKPOINT_RESTORE). */
export const allCapabilities: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
];

/** Docker's default set. */
export const defaultCapabilities: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

/** `net_admin`, `NET_ADMIN`, `CAP_NET_ADMIN` → `CAP_NET_ADMIN`; `ALL` stays `ALL`. */
export function normalizeCapability(name: string): string {
  const upper = name.trim().toUpperCase();
  if (upper === 'ALL') return 'ALL';
  return upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
}

/** The capabilities in a `CapBnd:` hex mask of /proc/<pid>/status. */
export function capabilitiesFromMask(hex: string): string[] {
  const mask = BigInt(`0x${hex || '0'}`);
  return allCapabilities.filter((_c, bit) => (mask >> BigInt(bit)) & 1n);
}

/**
 * The capability set after CRI add/drop: drops apply to the default set, then adds (as
 * containerd does: adding wins over dropping the same capability). `available` is what the
 * runtime itself holds (its bounding set): nothing outside it can be given, so `ALL` means all
 * of those, and asking for one outside it is an error rather than a failed start.
 * Unknown names are returned as causes for an Invalid error.
 */
export function resolveCapabilities(
  add: readonly string[] = [],
  drop: readonly string[] = [],
  available: readonly string[] = allCapabilities,
): { capabilities: string[]; causes: StatusCause[] } {
  const causes: StatusCause[] = [];
  const check = (list: readonly string[], field: string): string[] =>
    list.map((raw, i) => {
      const c = normalizeCapability(raw);
      if (c !== 'ALL' && !allCapabilities.includes(c)) {
        causes.push({
          reason: 'FieldValueNotSupported',
          message: `Unsupported value: "${raw}" is not a Linux capability`,
          field: `security.capabilities.${field}[${i}]`,
        });
      }
      return c;
    });
  const adds = check(add, 'addCapabilities');
  const drops = check(drop, 'dropCapabilities');
  let set = new Set<string>(defaultCapabilities);
  if (drops.includes('ALL')) set = new Set();
  for (const d of drops) set.delete(d);
  if (adds.includes('ALL')) set = new Set(available);
  adds.forEach((a, i) => {
    if (a === 'ALL' || !allCapabilities.includes(a)) return;
    if (!available.includes(a)) {
      causes.push({
        reason: 'FieldValueForbidden',
        message: `Forbidden: "${a}" is not in the runtime's own capability bounding set`,
        field: `security.capabilities.addCapabilities[${i}]`,
      });
      return;
    }
    set.add(a);
  });
  return { capabilities: available.filter((c) => set.has(c)), causes };
}
