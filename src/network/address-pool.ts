/**
 * IPAM within one node's block of a network: which address each pod holds, persisted in one
 * JSON file under the agent's data dir and replaced atomically (and durably) before an
 * allocation is returned, so an address is never given to two pods, also across agent
 * restarts and crashes. The first address of the block is the gateway (the router's), the last
 * the broadcast address; pods get the ones between.
 *
 * The record also keeps what the network layer needs to undo an attachment after a restart
 * (the kind of device, the pod's host ports), so recovery needs nothing but this file.
 *
 * Invariants: operations are serialised; the file on disk always equals the pool in memory
 * after an operation resolves.
 */
import { readFile } from 'node:fs/promises';
import { Type, type Static } from '@sinclair/typebox';
import { conflict, parseJson, parseWith, unavailable, writeJsonFileAtomic } from '../lib/index.js';
import { addressAt, cidrSize, formatIpv4, formatIpv4Cidr, parseIpv4, parseIpv4Cidr } from './ipv4.js';

const HostPortSchema = Type.Object({
  protocol: Type.Union([Type.Literal('TCP'), Type.Literal('UDP'), Type.Literal('SCTP')]),
  hostPort: Type.Integer({ minimum: 1, maximum: 65535 }),
  containerPort: Type.Integer({ minimum: 1, maximum: 65535 }),
  hostIp: Type.Optional(Type.String({ maxLength: 64 })),
});

const AllocationSchema = Type.Object({
  owner: Type.String({ minLength: 1, maxLength: 128 }),
  ip: Type.String({ maxLength: 15 }),
  kind: Type.Union([Type.Literal('veth'), Type.Literal('tap')]),
  hostPorts: Type.Array(HostPortSchema, { maxItems: 1024 }),
});

const PoolFileSchema = Type.Object({
  schema: Type.Literal(1),
  block: Type.String({ maxLength: 18 }),
  allocations: Type.Array(AllocationSchema, { maxItems: 65536 }),
  /** The address given out last: the next search starts after it (absent in older files). */
  lastIp: Type.Optional(Type.String({ maxLength: 15 })),
});

export type HostPortMapping = Static<typeof HostPortSchema>;
export type AddressAllocation = Static<typeof AllocationSchema>;

export interface AllocationRequest {
  readonly kind: 'veth' | 'tap';
  readonly hostPorts: readonly HostPortMapping[];
}

export class AddressPool {
  readonly #path: string;
  readonly block: string;
  readonly gateway: string;
  readonly prefixLength: number;
  readonly #first: number;
  readonly #last: number;
  #byOwner = new Map<string, AddressAllocation>();
  #lastIp: number | undefined;
  #tail: Promise<unknown> = Promise.resolve();

  private constructor(path: string, block: string) {
    const cidr = parseIpv4Cidr(block);
    if (cidrSize(cidr) < 4) throw conflict(`Block "${block}" is too small for a gateway and a pod`);
    this.#path = path;
    this.block = formatIpv4Cidr(cidr);
    this.prefixLength = cidr.prefixLength;
    this.gateway = formatIpv4(addressAt(cidr, 1));
    this.#first = addressAt(cidr, 2);
    this.#last = addressAt(cidr, cidrSize(cidr) - 2);
  }

  /**
   * Opens the pool file at `path` (created on the first allocation) for `block`.
   * @throws Conflict when the file belongs to another block; Invalid when it is corrupt.
   */
  static async open(path: string, block: string): Promise<AddressPool> {
    const pool = new AddressPool(path, block);
    let text: string | undefined;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (text !== undefined) {
      const file = parseWith(
        PoolFileSchema,
        parseJson(text, `address pool "${path}"`),
        `address pool "${path}"`,
      );
      if (file.block !== pool.block && file.allocations.length > 0) {
        throw conflict(
          `Address pool "${path}" holds addresses of block "${file.block}", not "${pool.block}"`,
        );
      }
      for (const a of file.allocations) pool.#byOwner.set(a.owner, a);
      if (file.block === pool.block && file.lastIp !== undefined) pool.#lastIp = parseIpv4(file.lastIp);
    }
    return pool;
  }

  find(owner: string): AddressAllocation | undefined {
    return this.#byOwner.get(owner);
  }

  list(): AddressAllocation[] {
    return [...this.#byOwner.values()];
  }

  /**
   * The owner's address: the one it holds, else the next free one after the address given out
   * last (round robin, as CNI's host-local does: an address just freed is not handed to the next
   * pod at once, while neighbours and connection tracking may still remember its last owner),
   * persisted before it is returned. @throws ServiceUnavailable when the block is full
   */
  allocate(owner: string, request: AllocationRequest): Promise<AddressAllocation> {
    return this.#serial(async () => {
      const held = this.#byOwner.get(owner);
      if (held) return held;
      const used = new Set([...this.#byOwner.values()].map((a) => parseIpv4(a.ip)));
      const count = this.#last - this.#first + 1;
      const after = this.#lastIp !== undefined && this.#lastIp >= this.#first && this.#lastIp <= this.#last;
      const start = after ? (this.#lastIp as number) - this.#first + 1 : 0;
      for (let i = 0; i < count; i++) {
        const ip = this.#first + ((start + i) % count);
        if (used.has(ip)) continue;
        const a: AddressAllocation = {
          owner,
          ip: formatIpv4(ip),
          kind: request.kind,
          hostPorts: [...request.hostPorts],
        };
        const next = new Map(this.#byOwner).set(owner, a);
        await this.#persist(next, ip);
        this.#byOwner = next;
        this.#lastIp = ip;
        return a;
      }
      throw unavailable(`No free address in block "${this.block}" for "${owner}"`);
    });
  }

  /** Frees the owner's address; returns what it held. Idempotent. */
  release(owner: string): Promise<AddressAllocation | undefined> {
    return this.#serial(async () => {
      const held = this.#byOwner.get(owner);
      if (!held) return undefined;
      const next = new Map(this.#byOwner);
      next.delete(owner);
      await this.#persist(next);
      this.#byOwner = next;
      return held;
    });
  }

  async #persist(next: Map<string, AddressAllocation>, lastIp = this.#lastIp): Promise<void> {
    const file: Static<typeof PoolFileSchema> = {
      schema: 1,
      block: this.block,
      allocations: [...next.values()].sort((a, b) => (parseIpv4(a.ip) ?? 0) - (parseIpv4(b.ip) ?? 0)),
      ...(lastIp !== undefined ? { lastIp: formatIpv4(lastIp) } : {}),
    };
    await writeJsonFileAtomic(this.#path, file, { isDurable: true });
  }

  #serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(work, work);
    this.#tail = run.catch(() => undefined);
    return run;
  }
}
