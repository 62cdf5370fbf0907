/**
 * The bound on what unpacking one image may write (docs/images.md, "Limits"). A layer is
 * hostile: 20 MB of gzip can inflate to 20 GiB of zeros. So the unpacker charges every entry
 * to a budget *as the tar stream is read*, before it writes the entry: the bytes of regular
 * files (what `ImageRecord.sizeBytes` reports) and one entry for every file, directory, link or
 * whiteout (each costs an inode). Past either limit the unpack stops with RequestEntityTooLarge
 * and its caller removes the partial tree, so the refusal comes before the disk fills.
 *
 * One budget covers all the layers of one image, unpacked in parallel in the unpack pool's
 * worker threads: the counters live in a SharedArrayBuffer, which a worker receives by
 * reference inside the job spec, and are changed with Atomics. A failed unpack gives back what
 * it charged (its tree is removed), so a retry from the blob is not counted twice.
 */
import { tooLarge } from '../lib/index.js';

/** Limits of one image's unpacked content. */
export interface UnpackLimits {
  /** Bytes of regular files, summed over every layer of the image. */
  readonly maxBytes: number;
  /** Entries (files, directories, links, whiteouts), summed over every layer. */
  readonly maxEntries: number;
}

/** A budget shared by the unpacks of one image. Plain data, so it can be posted to a worker. */
export interface UnpackBudget extends UnpackLimits {
  /** Two BigInt64 counters: bytes and entries charged so far. */
  readonly counters: SharedArrayBuffer;
  /** What is being unpacked, for the error: `image "127.0.0.1:5000/app:v1"`. */
  readonly subject: string;
}

/** Default `maxUnpackedBytes` of the image service: 8 GiB. */
export const defaultMaxUnpackedBytes = 8 * 1024 * 1024 * 1024;
/** Default `maxUnpackedEntries` of the image service. */
export const defaultMaxUnpackedEntries = 2_000_000;

/** How an operator raises the limits (the option of the image service and the daemon's flag). */
const bytesHint =
  'raise the image service\'s maxUnpackedBytes ("h8s runtime --image-max-bytes") to accept it';
const entriesHint =
  'raise the image service\'s maxUnpackedEntries ("h8s runtime --image-max-entries") to accept it';

/** A fresh budget for `subject` (e.g. `image "busybox:latest"`). */
export function createUnpackBudget(subject: string, limits: UnpackLimits): UnpackBudget {
  return {
    counters: new SharedArrayBuffer(2 * BigInt64Array.BYTES_PER_ELEMENT),
    maxBytes: limits.maxBytes,
    maxEntries: limits.maxEntries,
    subject,
  };
}

/** What has been charged so far. */
export function unpackBudgetUsed(budget: UnpackBudget): { bytes: number; entries: number } {
  const c = new BigInt64Array(budget.counters);
  return { bytes: Number(Atomics.load(c, 0)), entries: Number(Atomics.load(c, 1)) };
}

/** `1073741824` → `1 GiB`, `1500` → `1500 bytes`. */
export function formatBytes(n: number): string {
  for (const [unit, size] of [
    ['GiB', 1024 ** 3],
    ['MiB', 1024 ** 2],
    ['KiB', 1024],
  ] as const) {
    if (n >= size) {
      const v = n / size;
      return `${Number.isInteger(v) ? v : v.toFixed(1)} ${unit}`;
    }
  }
  return `${n} bytes`;
}

/** The error for an image whose unpacked content is over a limit. */
export function unpackLimitError(
  budget: Pick<UnpackBudget, 'subject' | 'maxBytes' | 'maxEntries'>,
  what: string,
  kind: 'bytes' | 'entries',
): Error {
  const who = what === budget.subject ? 'it unpacks' : `${what} takes it`;
  return kind === 'bytes'
    ? tooLarge(
        `Refusing ${budget.subject}: ${who} past the limit of ${formatBytes(budget.maxBytes)} (${budget.maxBytes} bytes) of unpacked files; ${bytesHint}`,
      )
    : tooLarge(
        `Refusing ${budget.subject}: ${who} past the limit of ${budget.maxEntries} unpacked entries (files, directories, links); ${entriesHint}`,
      );
}

/**
 * The charges of one unpack against a budget: `charge` before each entry is written, `refund`
 * when the unpack fails (its partial tree is removed).
 */
export class BudgetAccount {
  readonly #budget: UnpackBudget;
  readonly #counters: BigInt64Array;
  readonly #what: string;
  #bytes = 0n;
  #entries = 0n;

  constructor(budget: UnpackBudget, what: string) {
    this.#budget = budget;
    this.#counters = new BigInt64Array(budget.counters);
    this.#what = what;
  }

  /**
   * Charges one entry of `bytes` file bytes.
   * @throws RequestEntityTooLarge when the image passes a limit (nothing is charged then)
   */
  charge(bytes: number): void {
    const b = BigInt(bytes);
    const c = this.#counters;
    if (Atomics.add(c, 1, 1n) + 1n > BigInt(this.#budget.maxEntries)) {
      Atomics.sub(c, 1, 1n);
      throw unpackLimitError(this.#budget, this.#what, 'entries');
    }
    if (Atomics.add(c, 0, b) + b > BigInt(this.#budget.maxBytes)) {
      Atomics.sub(c, 0, b);
      Atomics.sub(c, 1, 1n);
      throw unpackLimitError(this.#budget, this.#what, 'bytes');
    }
    this.#bytes += b;
    this.#entries += 1n;
  }

  /** Gives back everything this account charged. */
  refund(): void {
    Atomics.sub(this.#counters, 0, this.#bytes);
    Atomics.sub(this.#counters, 1, this.#entries);
    this.#bytes = 0n;
    this.#entries = 0n;
  }
}

/**
 * Charges content unpacked earlier (a cached layer tree) to `budget`.
 * @throws RequestEntityTooLarge when that alone passes a limit
 */
export function chargeUnpacked(
  budget: UnpackBudget,
  what: string,
  used: { bytes: number; entries: number },
): void {
  const c = new BigInt64Array(budget.counters);
  const bytes = Atomics.add(c, 0, BigInt(used.bytes)) + BigInt(used.bytes);
  const entries = Atomics.add(c, 1, BigInt(used.entries)) + BigInt(used.entries);
  if (entries > BigInt(budget.maxEntries)) throw unpackLimitError(budget, what, 'entries');
  if (bytes > BigInt(budget.maxBytes)) throw unpackLimitError(budget, what, 'bytes');
}
