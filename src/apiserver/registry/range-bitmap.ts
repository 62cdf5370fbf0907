/**
 * A bitmap of allocated offsets kept as one object in the store (upstream's `RangeAllocation`
 * under `/registry/ranges/...`, read and written by `ipallocator` / `portallocator` through
 * etcd compare-and-swap). Every change reads the bitmap, changes a copy and writes it back
 * with compare-and-swap on its revision, retrying when another writer (another request, another
 * API server) won: two requests can never take the same bit, whichever server they reach.
 *
 * The object also carries the repair loop's leak candidates (set bits no Service held at the
 * last repair) with the time they were recorded, so every server's repair sees the same ones;
 * clearing a bit drops it from the candidates, so a bit freed and taken again starts afresh.
 */
import { isRecord, unavailable, type Logger } from '../../lib/index.js';
import type { KeyValueStore } from '../../storage/index.js';

/** The state of a range as one change sees it; a change mutates it in place. */
export interface RangeState {
  readonly size: number;
  readonly bits: Uint8Array;
  /** Offsets a repair found set and held by no Service. */
  readonly leakCandidates: Set<number>;
  /** When the candidates were recorded (clock ms); 0 when never. */
  leakCheckedMs: number;
}

export interface RangeBitmapDeps {
  readonly store: KeyValueStore;
  readonly log: Logger;
}

export interface RangeBitmapConfig {
  /** The store key, e.g. `/registry/ranges/serviceips`. */
  readonly key: string;
  /** The range as text (`10.43.0.0/16`); a stored bitmap of another range is started afresh. */
  readonly range: string;
  /** Offsets 0..size-1. */
  readonly size: number;
}

/**
 * Compare-and-swap attempts before a change gives up with ServiceUnavailable. A lost CAS costs
 * one read and one write; hundreds of concurrent creates on one range each win within a few
 * hundred attempts.
 */
const maxAttempts = 1000;

export function isSet(state: RangeState, offset: number): boolean {
  return ((state.bits[offset >> 3] ?? 0) & (1 << (offset & 7))) !== 0;
}

export function setBit(state: RangeState, offset: number): void {
  state.bits[offset >> 3] = (state.bits[offset >> 3] ?? 0) | (1 << (offset & 7));
}

/** Clears a bit and forgets it as a leak candidate (it may be taken again at once). */
export function clearBit(state: RangeState, offset: number): void {
  state.bits[offset >> 3] = (state.bits[offset >> 3] ?? 0) & ~(1 << (offset & 7));
  state.leakCandidates.delete(offset);
}

export class RangeBitmap {
  readonly #store: KeyValueStore;
  readonly #log: Logger;
  readonly #config: RangeBitmapConfig;
  #hasWarned = false;

  constructor(deps: RangeBitmapDeps, config: RangeBitmapConfig) {
    this.#store = deps.store;
    this.#log = deps.log;
    this.#config = config;
  }

  get range(): string {
    return this.#config.range;
  }

  get size(): number {
    return this.#config.size;
  }

  /** The current state (a copy; changing it changes nothing). */
  async read(): Promise<RangeState> {
    const kv = await this.#store.find(this.#config.key);
    return this.#decode(kv?.value);
  }

  /**
   * Applies `change` to the current state and stores the result with compare-and-swap,
   * re-reading and re-applying it when another writer came first. `change` must be a pure
   * function of the state (it may run several times) and returns whether it changed anything
   * (nothing is written otherwise) and its result; it may throw to refuse (nothing is written).
   * @throws what `change` throws, ServiceUnavailable (store down, endless contention)
   */
  async update<T>(
    change: (state: RangeState) => { readonly changed: boolean; readonly result: T },
  ): Promise<T> {
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      const kv = await this.#store.find(this.#config.key);
      const state = this.#decode(kv?.value);
      const { changed, result } = change(state);
      if (!changed) return result;
      const value = this.#encode(state);
      const written = kv
        ? await this.#store.update(this.#config.key, value, kv.modRevision)
        : await this.#store.create(this.#config.key, value);
      if (written.ok) return result;
    }
    throw unavailable(
      `Cannot update the allocations of range ${this.#config.range}: too many concurrent writers`,
    );
  }

  #decode(value: Uint8Array | undefined): RangeState {
    const size = this.#config.size;
    const fresh: RangeState = {
      size,
      bits: new Uint8Array(Math.ceil(size / 8)),
      leakCandidates: new Set(),
      leakCheckedMs: 0,
    };
    if (!value) return fresh;
    let stored: unknown;
    try {
      stored = JSON.parse(Buffer.from(value).toString('utf8'));
    } catch {
      stored = undefined;
    }
    if (!isRecord(stored) || typeof stored['data'] !== 'string' || stored['range'] !== this.#config.range) {
      // Another range (the flag changed) or an unreadable object: start afresh; the repair at
      // start-up sets the bits of every Service that exists before any request is served.
      if (this.#hasWarned) return fresh;
      this.#hasWarned = true;
      this.#log.warn('Range allocation does not match the configured range; starting it afresh', {
        key: this.#config.key,
        range: this.#config.range,
        storedRange: isRecord(stored) ? String(stored['range']) : undefined,
      });
      return fresh;
    }
    const data = Buffer.from(stored['data'], 'base64');
    fresh.bits.set(data.subarray(0, fresh.bits.length));
    const candidates = stored['leakCandidates'];
    if (Array.isArray(candidates)) {
      for (const c of candidates)
        if (typeof c === 'number' && c >= 0 && c < size) fresh.leakCandidates.add(c);
    }
    const checked = stored['leakCheckedMs'];
    fresh.leakCheckedMs = typeof checked === 'number' ? checked : 0;
    return fresh;
  }

  #encode(state: RangeState): Uint8Array {
    const name = this.#config.key.slice(this.#config.key.lastIndexOf('/') + 1);
    return Buffer.from(
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'RangeAllocation',
        metadata: { name },
        range: this.#config.range,
        data: Buffer.from(state.bits).toString('base64'),
        ...(state.leakCandidates.size > 0
          ? { leakCandidates: [...state.leakCandidates].sort((a, b) => a - b) }
          : {}),
        ...(state.leakCheckedMs > 0 ? { leakCheckedMs: state.leakCheckedMs } : {}),
      }),
    );
  }
}
