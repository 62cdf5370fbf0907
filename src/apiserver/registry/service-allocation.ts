/**
 * Cluster IPs and node ports of Services (upstream's `pkg/registry/core/service/ipallocator`,
 * `portallocator` and their repair controllers), kept as two bitmaps in the store
 * (`/registry/ranges/serviceips`, `/registry/ranges/servicenodeports`) that every change
 * updates by compare-and-swap (`range-bitmap.ts`), so API servers sharing a store never hand
 * out one value twice.
 *
 * A write of a Service takes what it needs before it is stored (`admit`, run by the
 * `ServiceAllocation` admission plugin) and settles up once its outcome is known (the returned
 * finish): a refused write gives back what it took, a stored update gives back what the
 * Service let go (a type change to ExternalName or ClusterIP), a deletion gives back
 * everything. Only the request whose compare-and-swap stored the change or removed the
 * object settles, so nothing is given back twice.
 *
 * What a crash between the two steps leaks, the repair (`repair`, at start-up and every
 * `repairIntervalMs`) takes back: it sets the bits of every Service and frees a bit only when
 * two repairs at least `leakGraceMs` apart found it set and held by no Service (so a create in
 * flight during a scan keeps its address). The candidates live in the bitmap object, so any
 * server's repair continues another's.
 *
 * Rules, as upstream's: `clusterIP: None` is headless (no address); a requested address or
 * port must lie in its range and be free (422 with a cause on the field); NodePort and
 * LoadBalancer Services get a node port for every port without one; clusterIP is immutable
 * (validation says so) except to or from ExternalName; fields a type change makes
 * meaningless and that the update left as they were are dropped (upstream's
 * `dropTypeDependentFields`), and ones an update omits are carried over (`patchAllocatedValues`).
 */
import type { KubeObject, Service, ServicePort } from '../../api/index.js';
import {
  describeError,
  invalid,
  unavailable,
  type Clock,
  type Logger,
  type StatusCause,
} from '../../lib/index.js';
import type { KeyValueStore } from '../../storage/index.js';
import type { AdmissionAttributes, AdmissionFinish, WriteOutcome } from '../admission/admission-plugin.js';
import { decodeShared } from './object-codec.js';
import { clearBit, isSet, RangeBitmap, setBit, type RangeState } from './range-bitmap.js';
import {
  ipAtOffset,
  ipOffset,
  kubernetesServiceIp,
  portOffset,
  type PortRange,
  type ServiceCidr,
} from './service-ranges.js';
import { resourcePrefix } from './storage-key.js';

export interface ServiceAllocationDeps {
  readonly store: KeyValueStore;
  readonly clock: Clock;
  readonly log: Logger;
  /** A number in [0, 1) where dynamic allocation starts looking; default Math.random. */
  readonly random?: () => number;
}

export interface ServiceAllocationConfig {
  readonly serviceCidr: ServiceCidr;
  readonly nodePortRange: PortRange;
  /** Between repairs of `run` (upstream's is 3 minutes). */
  readonly repairIntervalMs?: number;
  /** How long a set bit no Service holds must stay so before a repair frees it. */
  readonly leakGraceMs?: number;
}

/** What a Service holds: its cluster IP offset and node port offsets. */
interface Holdings {
  readonly ip: number | undefined;
  readonly ports: readonly number[];
}

/** What one repair found (for logs and tests). */
export interface RepairReport {
  /** Bits set because a Service held them and the bitmap did not say so. */
  readonly restored: { readonly ips: number; readonly ports: number };
  /** Bits freed: leaked in two repairs in a row. */
  readonly freed: { readonly ips: number; readonly ports: number };
  /** Bits set and held by no Service, freed by a later repair unless taken meanwhile. */
  readonly suspected: { readonly ips: number; readonly ports: number };
}

export const serviceIpsKey = '/registry/ranges/serviceips';
export const serviceNodePortsKey = '/registry/ranges/servicenodeports';
const defaultRepairIntervalMs = 3 * 60_000;
const defaultLeakGraceMs = 60_000;
const servicesPrefix = resourcePrefix({ group: '', resource: 'services', namespaced: true });

type ServiceSpec = NonNullable<Service['spec']>;

function specOf(obj: Readonly<KubeObject> | undefined): ServiceSpec | undefined {
  return (obj as Service | undefined)?.spec;
}

function needsClusterIp(spec: ServiceSpec | undefined): boolean {
  return spec !== undefined && spec.type !== 'ExternalName' && spec.clusterIP !== 'None';
}

/** Whether the type uses node ports (upstream's `needsNodePort`): requested ones are kept. */
function needsNodePorts(spec: ServiceSpec | undefined): boolean {
  return spec?.type === 'NodePort' || spec?.type === 'LoadBalancer';
}

/** Whether ports without a node port get one (LoadBalancers may opt out). */
function allocatesNodePorts(spec: ServiceSpec): boolean {
  return (
    spec.type === 'NodePort' || (spec.type === 'LoadBalancer' && spec.allocateLoadBalancerNodePorts !== false)
  );
}

function sameList(a: readonly unknown[] | undefined, b: readonly unknown[] | undefined): boolean {
  const x = a ?? [];
  const y = b ?? [];
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

/**
 * Ports of the band dynamic allocation prefers to leave to requests (upstream's
 * `calculateRangeOffset`: min(max(16, size/16), 256), none below 16).
 */
function staticBand(size: number): number {
  if (size < 16) return 0;
  return Math.min(Math.max(16, Math.floor(size / 16)), 256);
}

export class ServiceAllocation {
  readonly serviceCidr: ServiceCidr;
  readonly nodePortRange: PortRange;
  readonly #ips: RangeBitmap;
  readonly #ports: RangeBitmap;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #store: KeyValueStore;
  readonly #random: () => number;
  readonly #repairIntervalMs: number;
  readonly #leakGraceMs: number;

  constructor(deps: ServiceAllocationDeps, config: ServiceAllocationConfig) {
    this.serviceCidr = config.serviceCidr;
    this.nodePortRange = config.nodePortRange;
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#log = deps.log.child({ component: 'service-allocation' });
    this.#random = deps.random ?? Math.random;
    this.#repairIntervalMs = config.repairIntervalMs ?? defaultRepairIntervalMs;
    this.#leakGraceMs = config.leakGraceMs ?? defaultLeakGraceMs;
    this.#ips = new RangeBitmap(
      { store: deps.store, log: this.#log },
      { key: serviceIpsKey, range: config.serviceCidr.text, size: config.serviceCidr.size },
    );
    this.#ports = new RangeBitmap(
      { store: deps.store, log: this.#log },
      { key: serviceNodePortsKey, range: config.nodePortRange.text, size: config.nodePortRange.size },
    );
  }

  /** The address of the `kubernetes` Service (never handed out dynamically). */
  get kubernetesServiceIp(): string {
    return kubernetesServiceIp(this.serviceCidr);
  }

  /** How many cluster IPs and node ports are taken (tests, metrics). */
  async usage(): Promise<{ readonly ips: number; readonly ports: number }> {
    const count = (s: RangeState): number => {
      let n = 0;
      for (let i = 0; i < s.size; i++) if (isSet(s, i)) n++;
      return n;
    };
    return { ips: count(await this.#ips.read()), ports: count(await this.#ports.read()) };
  }

  /**
   * Takes what the Service write in `attributes` needs and fills in `spec.clusterIP(s)` and
   * node ports; returns the finish for the write's outcome. With `dryRun` it checks and fills
   * in what it would take, and takes nothing.
   * @throws Invalid (a requested address or port outside its range or taken), ServiceUnavailable
   *   (a range is full, the store is down)
   */
  async admit(attributes: AdmissionAttributes): Promise<AdmissionFinish | undefined> {
    const oldSpec = specOf(attributes.oldObject);
    const before = oldSpec ? this.#holdingsOf(oldSpec) : { ip: undefined, ports: [] };
    if (attributes.operation === 'DELETE' || !attributes.object) {
      // A delete that only sets deletionTimestamp (finalizers) keeps everything until the
      // object goes.
      return this.#finisher(before, before, { ip: undefined, ports: [] });
    }
    const svc = attributes.object as unknown as Service;
    const spec = (svc.spec ??= {});
    if (oldSpec && attributes.operation === 'UPDATE') this.#carryOver(spec, oldSpec);
    if (!spec.clusterIP && spec.clusterIPs?.[0]) spec.clusterIP = spec.clusterIPs[0];
    if (spec.clusterIP === 'None' && spec.type !== 'ExternalName') spec.clusterIPs ??= ['None'];

    const name = attributes.name;
    const causes: StatusCause[] = [];
    // The address: only a Service that had none may take one (a changed address is refused by
    // validation as immutable, before anything would be given back).
    let wantIp: 'dynamic' | number | undefined;
    if (needsClusterIp(spec) && (!needsClusterIp(oldSpec) || !oldSpec?.clusterIP)) {
      if (!spec.clusterIP) wantIp = 'dynamic';
      else {
        const offset = ipOffset(this.serviceCidr, spec.clusterIP);
        if (offset !== undefined) wantIp = offset;
        else if (/^\d+\.\d+\.\d+\.\d+$/.test(spec.clusterIP)) {
          causes.push({
            reason: 'FieldValueInvalid',
            field: 'spec.clusterIP',
            message: `Invalid value: "${spec.clusterIP}": failed to allocate IP ${spec.clusterIP}: provided IP is not in the valid range. The range of valid IPs is ${this.serviceCidr.text}`,
          });
        }
        // Anything else is not an address: validation says so.
      }
    }
    // Node ports: requested ones the Service did not hold before, and one for each port without.
    const wantPorts: number[] = [];
    const dynamicPorts: ServicePort[] = [];
    if (needsNodePorts(spec)) {
      const held = new Set(before.ports);
      (spec.ports ?? []).forEach((p, i) => {
        if (p.nodePort === undefined || p.nodePort === 0) {
          if (allocatesNodePorts(spec)) dynamicPorts.push(p);
          return;
        }
        const offset = portOffset(this.nodePortRange, p.nodePort);
        if (offset === undefined) {
          if (p.nodePort >= 1 && p.nodePort <= 65535) {
            causes.push({
              reason: 'FieldValueInvalid',
              field: `spec.ports[${i}].nodePort`,
              message: `Invalid value: ${p.nodePort}: provided port is not in the valid range. The range of valid ports is ${this.nodePortRange.text}`,
            });
          }
        } else if (!held.has(offset) && !wantPorts.includes(offset)) wantPorts.push(offset);
      });
    }
    if (causes.length > 0) throw this.#invalid(name, causes);

    const taken = attributes.dryRun
      ? await this.#check(wantIp, wantPorts, dynamicPorts.length, name, spec)
      : await this.#take(wantIp, wantPorts, dynamicPorts.length, name, spec);
    if (taken.ip !== undefined) {
      const ip = ipAtOffset(this.serviceCidr, taken.ip);
      spec.clusterIP = ip;
      spec.clusterIPs = [ip];
      spec.ipFamilies ??= ['IPv4'];
      spec.ipFamilyPolicy ??= 'SingleStack';
    }
    dynamicPorts.forEach((p, i) => {
      const offset = taken.dynamicPorts[i];
      if (offset !== undefined) p.nodePort = this.nodePortRange.first + offset;
    });
    if (attributes.dryRun) return undefined;
    const newly: Holdings = { ip: taken.ip, ports: [...wantPorts, ...taken.dynamicPorts] };
    return this.#finisher(before, this.#holdingsOf(spec), newly);
  }

  /**
   * Upstream's update rules: values an update omitted that the Service keeps needing are
   * carried over; values the new type does not use are dropped when the update left them as
   * they were.
   */
  #carryOver(spec: ServiceSpec, old: ServiceSpec): void {
    if (needsClusterIp(old) && !needsClusterIp(spec)) {
      if (spec.clusterIP === old.clusterIP && sameList(spec.clusterIPs, old.clusterIPs)) {
        delete spec.clusterIP;
        delete spec.clusterIPs;
      }
      if (sameList(spec.ipFamilies, old.ipFamilies)) delete spec.ipFamilies;
      if (spec.ipFamilyPolicy === old.ipFamilyPolicy) delete spec.ipFamilyPolicy;
    } else if (needsClusterIp(old) && needsClusterIp(spec) && !spec.clusterIP && !spec.clusterIPs?.length) {
      if (old.clusterIP !== undefined) spec.clusterIP = old.clusterIP;
      if (old.clusterIPs !== undefined) spec.clusterIPs = [...old.clusterIPs];
    }
    const isExternal = (t: string | undefined): boolean => t === 'NodePort' || t === 'LoadBalancer';
    if (isExternal(old.type) && !isExternal(spec.type)) {
      if (spec.externalTrafficPolicy === old.externalTrafficPolicy) delete spec.externalTrafficPolicy;
    }
    if (old.type === 'LoadBalancer' && spec.type !== 'LoadBalancer') {
      if (spec.allocateLoadBalancerNodePorts === old.allocateLoadBalancerNodePorts)
        delete spec.allocateLoadBalancerNodePorts;
    }
    const oldPorts = old.ports ?? [];
    if (needsNodePorts(old) && !needsNodePorts(spec)) {
      const ports = spec.ports ?? [];
      const same =
        ports.length === oldPorts.length && ports.every((p, i) => p.nodePort === oldPorts[i]?.nodePort);
      if (same) for (const p of ports) delete p.nodePort;
    } else if (needsNodePorts(old) && needsNodePorts(spec)) {
      for (const p of spec.ports ?? []) {
        if (p.nodePort !== undefined && p.nodePort !== 0) continue;
        const match = oldPorts.find(
          (o) => o.port === p.port && (o.protocol ?? 'TCP') === (p.protocol ?? 'TCP') && o.nodePort,
        );
        if (match?.nodePort !== undefined) p.nodePort = match.nodePort;
      }
    }
  }

  /** The offsets a stored Service holds (values outside the ranges hold nothing). */
  #holdingsOf(spec: ServiceSpec): Holdings {
    const ip =
      needsClusterIp(spec) && spec.clusterIP ? ipOffset(this.serviceCidr, spec.clusterIP) : undefined;
    const ports = new Set<number>();
    for (const p of spec.ports ?? []) {
      const offset = p.nodePort ? portOffset(this.nodePortRange, p.nodePort) : undefined;
      if (offset !== undefined) ports.add(offset);
    }
    return { ip, ports: [...ports] };
  }

  #finisher(before: Holdings, after: Holdings, newly: Holdings): AdmissionFinish | undefined {
    const hasAny = (h: Holdings): boolean => h.ip !== undefined || h.ports.length > 0;
    if (!hasAny(before) && !hasAny(newly)) return undefined;
    return async (outcome: WriteOutcome) => {
      let give: Holdings;
      if (outcome === 'refused') give = newly;
      else if (outcome === 'deleted') {
        give = {
          ip: before.ip ?? after.ip,
          ports: [...new Set([...before.ports, ...after.ports])],
        };
      } else {
        give = {
          ip: before.ip !== undefined && before.ip !== after.ip ? before.ip : undefined,
          ports: before.ports.filter((p) => !after.ports.includes(p)),
        };
      }
      await this.#release(give);
    };
  }

  /** Gives back; a failure is logged (the repair frees the bits later), never thrown. */
  async #release(give: Holdings): Promise<void> {
    try {
      if (give.ip !== undefined) {
        const ip = give.ip;
        await this.#ips.update((s) => {
          if (!isSet(s, ip)) return { changed: false, result: undefined };
          clearBit(s, ip);
          return { changed: true, result: undefined };
        });
      }
      if (give.ports.length > 0) {
        await this.#ports.update((s) => {
          let changed = false;
          for (const p of give.ports) {
            if (!isSet(s, p)) continue;
            clearBit(s, p);
            changed = true;
          }
          return { changed, result: undefined };
        });
      }
    } catch (err) {
      this.#log.warn('Cannot release service allocations; the repair will', {
        ...(give.ip !== undefined ? { clusterIP: ipAtOffset(this.serviceCidr, give.ip) } : {}),
        nodePorts: give.ports.map((p) => p + this.nodePortRange.first),
        error: describeError(err),
      });
    }
  }

  /** Takes the address and the ports, all or nothing. */
  async #take(
    ip: 'dynamic' | number | undefined,
    ports: readonly number[],
    dynamicPorts: number,
    name: string,
    spec: ServiceSpec,
  ): Promise<{ ip: number | undefined; dynamicPorts: number[] }> {
    let takenIp: number | undefined;
    if (ip !== undefined) {
      takenIp = await this.#ips.update((s) => {
        const offset = ip === 'dynamic' ? this.#pickIp(s, name) : this.#checkIpFree(s, ip, name, spec);
        setBit(s, offset);
        return { changed: true, result: offset };
      });
    }
    if (ports.length === 0 && dynamicPorts === 0) return { ip: takenIp, dynamicPorts: [] };
    try {
      const picked = await this.#ports.update((s) => {
        this.#checkPortsFree(s, ports, name, spec);
        for (const p of ports) setBit(s, p);
        const dynamic: number[] = [];
        for (let i = 0; i < dynamicPorts; i++) {
          const p = this.#pickPort(s, name);
          setBit(s, p);
          dynamic.push(p);
        }
        return { changed: true, result: dynamic };
      });
      return { ip: takenIp, dynamicPorts: picked };
    } catch (err) {
      if (takenIp !== undefined) await this.#release({ ip: takenIp, ports: [] });
      throw err;
    }
  }

  /** A dry run's `#take`: the same checks and picks on the current bitmaps, nothing written. */
  async #check(
    ip: 'dynamic' | number | undefined,
    ports: readonly number[],
    dynamicPorts: number,
    name: string,
    spec: ServiceSpec,
  ): Promise<{ ip: number | undefined; dynamicPorts: number[] }> {
    let offset: number | undefined;
    if (ip !== undefined) {
      const s = await this.#ips.read();
      offset = ip === 'dynamic' ? this.#pickIp(s, name) : this.#checkIpFree(s, ip, name, spec);
    }
    const dynamic: number[] = [];
    if (ports.length > 0 || dynamicPorts > 0) {
      const s = await this.#ports.read();
      this.#checkPortsFree(s, ports, name, spec);
      for (const p of ports) setBit(s, p);
      for (let i = 0; i < dynamicPorts; i++) {
        const p = this.#pickPort(s, name);
        setBit(s, p);
        dynamic.push(p);
      }
    }
    return { ip: offset, dynamicPorts: dynamic };
  }

  #checkIpFree(s: RangeState, offset: number, name: string, spec: ServiceSpec): number {
    if (!isSet(s, offset)) return offset;
    const ip = spec.clusterIP ?? ipAtOffset(this.serviceCidr, offset);
    throw this.#invalid(name, [
      {
        reason: 'FieldValueInvalid',
        field: 'spec.clusterIP',
        message: `Invalid value: "${ip}": failed to allocate IP ${ip}: provided IP is already allocated`,
      },
    ]);
  }

  #checkPortsFree(s: RangeState, ports: readonly number[], name: string, spec: ServiceSpec): void {
    const causes: StatusCause[] = [];
    (spec.ports ?? []).forEach((p, i) => {
      const offset = p.nodePort ? portOffset(this.nodePortRange, p.nodePort) : undefined;
      if (offset !== undefined && ports.includes(offset) && isSet(s, offset)) {
        causes.push({
          reason: 'FieldValueInvalid',
          field: `spec.ports[${i}].nodePort`,
          message: `Invalid value: ${p.nodePort}: provided port is already allocated`,
        });
      }
    });
    if (causes.length > 0) throw this.#invalid(name, causes);
  }

  /**
   * A free address, from a random start: in the upper band first (the lower one is left to
   * requested addresses, as upstream does), never the `kubernetes` Service's.
   * @throws ServiceUnavailable when the CIDR is full
   */
  #pickIp(s: RangeState, name: string): number {
    // Offsets 1 (the kubernetes Service) .. size-2; 0 and size-1 are network and broadcast.
    const first = 2;
    const last = s.size - 2;
    const band = Math.max(first, staticBand(s.size));
    const found = this.#scan(s, band, last) ?? this.#scan(s, first, band - 1);
    if (found === undefined) {
      throw unavailable(
        `Cannot allocate a cluster IP for services "${name}": the service CIDR ${this.serviceCidr.text} is full`,
      );
    }
    return found;
  }

  /** A free node port, upper band first. @throws ServiceUnavailable when the range is full */
  #pickPort(s: RangeState, name: string): number {
    const band = staticBand(s.size);
    const found = this.#scan(s, band, s.size - 1) ?? this.#scan(s, 0, band - 1);
    if (found === undefined) {
      throw unavailable(
        `Cannot allocate a node port for services "${name}": the node port range ${this.nodePortRange.text} is full`,
      );
    }
    return found;
  }

  /** The first clear offset in [from, to] from a random point, wrapping around. */
  #scan(s: RangeState, from: number, to: number): number | undefined {
    const n = to - from + 1;
    if (n <= 0) return undefined;
    const start = Math.floor(this.#random() * n);
    for (let i = 0; i < n; i++) {
      const offset = from + ((start + i) % n);
      if (!isSet(s, offset)) return offset;
    }
    return undefined;
  }

  #invalid(name: string, causes: readonly StatusCause[]): Error {
    const text = causes.map((c) => `${c.field ?? ''}: ${c.message}`);
    return invalid(`Service "${name}" is invalid: ${text.length === 1 ? text[0] : `[${text.join(', ')}]`}`, {
      details: { name, group: '', kind: 'Service', causes: [...causes] },
    });
  }

  // ---------------------------------------------------------------- repair

  /**
   * Rebuilds both bitmaps from the Services in the store: sets what a Service holds, frees what
   * two repairs `leakGraceMs` apart found held by none (see the module comment), and logs
   * Services whose values lie outside the ranges or collide.
   * @throws ServiceUnavailable (store down)
   */
  async repair(): Promise<RepairReport> {
    // The bitmap is read (inside update) after the list: a bit set after the list was read
    // belongs to a create that the next repair will see, and a leak candidate needs two repairs.
    const page = await this.#store.list(servicesPrefix);
    const ips = new Map<number, string>();
    const ports = new Map<number, string>();
    for (const kv of page.items) {
      const svc = decodeShared(kv) as unknown as Service;
      const spec = svc.spec;
      if (!spec) continue;
      const who = `${svc.metadata?.namespace ?? ''}/${svc.metadata?.name ?? ''}`;
      const held = this.#holdingsOf(spec);
      if (held.ip !== undefined) {
        const other = ips.get(held.ip);
        if (other !== undefined) {
          this.#log.warn('Two services have the same cluster IP', {
            clusterIP: spec.clusterIP,
            services: [other, who],
          });
        }
        ips.set(held.ip, who);
      } else if (needsClusterIp(spec) && spec.clusterIP) {
        this.#log.warn('Service has a cluster IP outside the service CIDR', {
          service: who,
          clusterIP: spec.clusterIP,
          serviceCidr: this.serviceCidr.text,
        });
      }
      for (const p of held.ports) {
        const other = ports.get(p);
        if (other !== undefined && other !== who) {
          this.#log.warn('Two services have the same node port', {
            nodePort: p + this.nodePortRange.first,
            services: [other, who],
          });
        }
        ports.set(p, who);
      }
    }
    const now = this.#clock.now();
    const ipReport = await this.#ips.update((s) => this.#repairRange(s, new Set(ips.keys()), now));
    const portReport = await this.#ports.update((s) => this.#repairRange(s, new Set(ports.keys()), now));
    const report: RepairReport = {
      restored: { ips: ipReport.restored, ports: portReport.restored },
      freed: { ips: ipReport.freed, ports: portReport.freed },
      suspected: { ips: ipReport.suspected, ports: portReport.suspected },
    };
    if (ipReport.restored + portReport.restored + ipReport.freed + portReport.freed > 0) {
      this.#log.info('Repaired service allocations', { ...report });
    }
    return report;
  }

  #repairRange(
    s: RangeState,
    held: ReadonlySet<number>,
    now: number,
  ): { changed: boolean; result: { restored: number; freed: number; suspected: number } } {
    let restored = 0;
    for (const offset of held) {
      if (isSet(s, offset)) continue;
      setBit(s, offset);
      restored++;
    }
    const leaks = new Set<number>();
    for (let i = 0; i < s.size; i++) if (isSet(s, i) && !held.has(i)) leaks.add(i);
    let freed = 0;
    const before = [...s.leakCandidates].sort((a, b) => a - b).join(',');
    const beforeChecked = s.leakCheckedMs;
    if (s.leakCheckedMs === 0 || now - s.leakCheckedMs >= this.#leakGraceMs) {
      if (s.leakCheckedMs !== 0) {
        for (const offset of [...s.leakCandidates]) {
          if (!leaks.has(offset)) continue;
          clearBit(s, offset);
          leaks.delete(offset);
          freed++;
        }
      }
      s.leakCandidates.clear();
      for (const offset of leaks) s.leakCandidates.add(offset);
      s.leakCheckedMs = leaks.size > 0 ? now : 0;
    } else {
      // Too soon after the last check (another server's repair): keep its candidates that are
      // still leaked, with its time.
      for (const offset of [...s.leakCandidates]) if (!leaks.has(offset)) s.leakCandidates.delete(offset);
      if (s.leakCandidates.size === 0) s.leakCheckedMs = 0;
    }
    const changed =
      restored > 0 ||
      freed > 0 ||
      beforeChecked !== s.leakCheckedMs ||
      before !== [...s.leakCandidates].sort((a, b) => a - b).join(',');
    return { changed, result: { restored, freed, suspected: s.leakCandidates.size } };
  }

  /** Repairs every `repairIntervalMs` until `signal` aborts; failures are logged. Never throws. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.#clock.sleep(this.#repairIntervalMs, signal);
      } catch {
        break;
      }
      try {
        await this.repair();
      } catch (err) {
        if (signal.aborted) break;
        this.#log.warn('Service allocation repair failed; retrying later', { error: describeError(err) });
      }
    }
  }
}
