/**
 * The consumer side of a guest output stream for interactive sessions (exec, attach,
 * port-forward): each chunk's `write` resolves only when the consumer has taken it, so the
 * connection acknowledges (and the guest sends more) at the consumer's pace. Memory held is
 * bounded by the stream window.
 */
import type { OutputSink } from './agent-connection.js';

interface Item {
  readonly data: Buffer;
  readonly taken: () => void;
}

export class OutputQueue implements OutputSink, AsyncIterable<Uint8Array> {
  #items: Item[] = [];
  #ended = false;
  #error: Error | undefined;
  #wake: (() => void) | undefined;
  #iterating = false;
  #done!: () => void;
  /** Resolves when the stream has ended (or failed) and every chunk was taken. */
  readonly finished: Promise<void> = new Promise((r) => {
    this.#done = r;
  });

  write(chunk: Buffer): Promise<void> {
    if (this.#ended) return Promise.resolve();
    return new Promise((resolve) => {
      this.#items.push({ data: chunk, taken: resolve });
      this.#notify();
    });
  }

  end(): void {
    this.#ended = true;
    this.#notify();
    if (this.#items.length === 0) this.#done();
  }

  fail(err: Error): void {
    if (this.#ended) return;
    this.#error = err;
    this.end();
  }

  /** The consumer went away: release everything (chunks count as taken). */
  discard(): void {
    for (const it of this.#items.splice(0)) it.taken();
    this.end();
  }

  #notify(): void {
    const w = this.#wake;
    this.#wake = undefined;
    w?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    if (this.#iterating) throw new Error('OutputQueue supports a single consumer');
    this.#iterating = true;
    try {
      for (;;) {
        const it = this.#items.shift();
        if (it) {
          it.taken();
          if (this.#ended && this.#items.length === 0) this.#done();
          yield it.data;
          continue;
        }
        if (this.#ended) {
          this.#done();
          if (this.#error) throw this.#error;
          return;
        }
        await new Promise<void>((r) => {
          this.#wake = r;
        });
      }
    } finally {
      this.discard();
    }
  }
}
