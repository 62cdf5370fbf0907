/**
 * A bounded, single-consumer async queue of byte chunks: the output side of a StreamSession.
 *
 * The producer pushes; when more than `highWaterBytes` wait unread, `onPause` tells it to stop
 * (pause the socket or pipe it reads from), and `onResume` once the consumer has caught up. So
 * a slow reader slows the process down instead of growing memory. A consumer must read every
 * output it asked for (stdout and stderr together) or the producer stays paused.
 */
import { abortReason } from '../lib/index.js';

export interface ByteChannelOptions {
  readonly highWaterBytes?: number;
  readonly onPause?: () => void;
  readonly onResume?: () => void;
}

export class ByteChannel implements AsyncIterable<Uint8Array> {
  #chunks: Uint8Array[] = [];
  #bytes = 0;
  #ended = false;
  #error: unknown;
  #paused = false;
  #wake: (() => void) | undefined;
  #iterating = false;
  readonly #high: number;
  readonly #onPause: (() => void) | undefined;
  readonly #onResume: (() => void) | undefined;

  constructor(options: ByteChannelOptions = {}) {
    this.#high = options.highWaterBytes ?? 1024 * 1024;
    this.#onPause = options.onPause;
    this.#onResume = options.onResume;
  }

  push(chunk: Uint8Array): void {
    if (this.#ended || chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#bytes += chunk.length;
    if (!this.#paused && this.#bytes > this.#high) {
      this.#paused = true;
      this.#onPause?.();
    }
    this.#notify();
  }

  end(): void {
    this.#ended = true;
    this.#notify();
  }

  fail(err: unknown): void {
    if (this.#ended) return;
    this.#error = err;
    this.#ended = true;
    this.#notify();
  }

  get isEnded(): boolean {
    return this.#ended;
  }

  #notify(): void {
    const w = this.#wake;
    this.#wake = undefined;
    w?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    if (this.#iterating) throw new Error('ByteChannel supports a single consumer');
    this.#iterating = true;
    try {
      for (;;) {
        const chunk = this.#chunks.shift();
        if (chunk) {
          this.#bytes -= chunk.length;
          if (this.#paused && this.#bytes <= this.#high / 2) {
            this.#paused = false;
            this.#onResume?.();
          }
          yield chunk;
          continue;
        }
        if (this.#ended) {
          if (this.#error !== undefined) throw this.#error;
          return;
        }
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
      }
    } finally {
      // a consumer that stops early no longer holds the producer back
      this.#chunks = [];
      this.#bytes = 0;
      this.#ended = true;
      if (this.#paused) {
        this.#paused = false;
        this.#onResume?.();
      }
    }
  }
}

/** Collects an async iterable of chunks into one buffer, up to `maxBytes` (the rest is dropped). */
export async function collectBytes(
  source: AsyncIterable<Uint8Array>,
  maxBytes = 16 * 1024 * 1024,
  signal?: AbortSignal,
): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const c of source) {
    if (signal?.aborted) throw abortReason(signal);
    if (size >= maxBytes) continue;
    const take = c.subarray(0, maxBytes - size);
    parts.push(Buffer.from(take));
    size += take.length;
  }
  return Buffer.concat(parts);
}
