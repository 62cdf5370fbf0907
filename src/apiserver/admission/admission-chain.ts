/**
 * The admission plugins of a server, in order, as the registry runs them on every write (see
 * `admission-plugin.ts` for where in a write each phase runs).
 */
import type {
  AdmissionAttributes,
  AdmissionRequest,
  MutatingAdmissionPlugin,
  ValidatingAdmissionPlugin,
} from './admission-plugin.js';

export interface AdmissionPlugins {
  /** Run first, in this order; each sees what the ones before it changed. */
  readonly mutating?: readonly MutatingAdmissionPlugin[];
  /** Run after validation, in this order. */
  readonly validating?: readonly ValidatingAdmissionPlugin[];
}

export class AdmissionChain {
  readonly #mutating: readonly MutatingAdmissionPlugin[];
  readonly #validating: readonly ValidatingAdmissionPlugin[];

  constructor(plugins: AdmissionPlugins = {}) {
    this.#mutating = plugins.mutating ?? [];
    this.#validating = plugins.validating ?? [];
  }

  /** The mutating phase: every plugin that handles the request, in order. @throws a refusal */
  async admit(attributes: AdmissionAttributes): Promise<void> {
    for (const p of this.#mutating) if (p.handles(attributes)) await p.admit(attributes);
  }

  /** The validating phase. @throws a refusal */
  async validate(attributes: AdmissionAttributes): Promise<void> {
    for (const p of this.#validating) if (p.handles(attributes)) await p.validate(attributes);
  }

  /**
   * Whether a plugin that handles `request` reads or changes the object: then the object must
   * be on the event loop between decode and validation (no write worker).
   */
  needsObject(request: AdmissionRequest): boolean {
    return (
      this.#mutating.some((p) => p.readsObject && p.handles(request)) ||
      this.#validating.some((p) => p.readsObject && p.handles(request))
    );
  }

  /** The plugins' names in the order they run (for the start-up log). */
  get pluginNames(): { readonly mutating: string[]; readonly validating: string[] } {
    return { mutating: this.#mutating.map((p) => p.name), validating: this.#validating.map((p) => p.name) };
  }
}
