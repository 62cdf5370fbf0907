/**
 * The admission plugins of a server, in order, as the registry runs them on every write (see
 * `admission-plugin.ts` for where in a write each phase runs).
 */
import type {
  AdmissionAttributes,
  AdmissionFinish,
  AdmissionRequest,
  MutatingAdmissionPlugin,
  ValidatingAdmissionPlugin,
  WriteOutcome,
} from './admission-plugin.js';
import type { AdmissionFacts } from '../registry/kind-strategy.js';

export interface AdmissionPlugins {
  /** Run first, in this order; each sees what the ones before it changed. */
  readonly mutating?: readonly MutatingAdmissionPlugin[];
  /** Run after validation, in this order. */
  readonly validating?: readonly ValidatingAdmissionPlugin[];
}

const finishNothing: AdmissionFinish = () => Promise.resolve();

async function finishAll(finishes: readonly AdmissionFinish[], outcome: WriteOutcome): Promise<void> {
  for (let i = finishes.length - 1; i >= 0; i--) await finishes[i]?.(outcome);
}

export class AdmissionChain {
  readonly #mutating: readonly MutatingAdmissionPlugin[];
  readonly #validating: readonly ValidatingAdmissionPlugin[];

  constructor(plugins: AdmissionPlugins = {}) {
    this.#mutating = plugins.mutating ?? [];
    this.#validating = plugins.validating ?? [];
  }

  /**
   * The mutating phase: every plugin that handles the request, in order. Returns the finish the
   * caller must call once with the write's outcome (plugins' finish functions in reverse order);
   * when a plugin refuses, those before it are finished as `refused` first.
   * @throws a refusal
   */
  async admit(attributes: AdmissionAttributes): Promise<AdmissionFinish> {
    let finishes: AdmissionFinish[] | undefined;
    for (const p of this.#mutating) {
      if (!p.handles(attributes)) continue;
      let finish: void | AdmissionFinish;
      try {
        finish = await p.admit(attributes);
      } catch (err) {
        if (finishes) await finishAll(finishes, 'refused');
        throw err;
      }
      if (finish) (finishes ??= []).push(finish);
    }
    return finishes ? (outcome) => finishAll(finishes, outcome) : finishNothing;
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

  /**
   * Whether a create a write worker prepared (with these facts) must run with its object after
   * all (see `AdmissionPlugin.needsPreparedObject`).
   */
  async needsPreparedObject(request: AdmissionRequest, facts: AdmissionFacts | undefined): Promise<boolean> {
    for (const p of [...this.#mutating, ...this.#validating]) {
      if (p.needsPreparedObject && p.handles(request) && (await p.needsPreparedObject(request, facts)))
        return true;
    }
    return false;
  }

  /** The plugins' names in the order they run (for the start-up log). */
  get pluginNames(): { readonly mutating: string[]; readonly validating: string[] } {
    return { mutating: this.#mutating.map((p) => p.name), validating: this.#validating.map((p) => p.name) };
  }
}
