/**
 * Exponential back-off with jitter, as Kubernetes uses for crash loops and retries.
 */

export interface BackoffOptions {
  readonly initialMs: number;
  readonly maxMs: number;
  /** Growth per failure; default 2. */
  readonly factor?: number;
  /** Fraction of random spread added on top (0..1); default 0. */
  readonly jitter?: number;
  readonly random?: () => number;
}

/** Tracks consecutive failures and says how long to wait before the next attempt. */
export class Backoff {
  readonly #options: BackoffOptions;
  #failures = 0;

  constructor(options: BackoffOptions) {
    this.#options = options;
  }

  get failures(): number {
    return this.#failures;
  }

  /** Records a failure and returns the delay before the next attempt. */
  next(): number {
    const { initialMs, maxMs, factor = 2, jitter = 0, random = Math.random } = this.#options;
    const base = Math.min(maxMs, initialMs * Math.pow(factor, this.#failures));
    this.#failures++;
    return Math.min(maxMs, Math.round(base * (1 + jitter * random())));
  }

  /** The delay `next()` would return, without recording anything. */
  peek(): number {
    const { initialMs, maxMs, factor = 2 } = this.#options;
    return Math.min(maxMs, initialMs * Math.pow(factor, this.#failures));
  }

  reset(): void {
    this.#failures = 0;
  }
}
