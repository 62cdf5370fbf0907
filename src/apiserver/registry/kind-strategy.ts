/**
 * What the registry does differently for a few kinds, as upstream's per-resource strategies
 * (`pkg/registry/core/pod`, `.../namespace`) do. Everything else about a kind comes from its
 * `KindDefinition`; this covers only deletion and create-time bookkeeping that upstream keeps
 * in the server, not in the types.
 */
import type { KubeObject } from '../../api/index.js';

/**
 * A few fields of a create as the client sent them, which admission plugins that need the
 * object only sometimes look at to decide (a pod's `priorityClassName`); they cross threads.
 */
export type AdmissionFacts = Readonly<Record<string, string | number | boolean | undefined>>;

export interface KindStrategy {
  /** The `AdmissionFacts` of a decoded create, before defaults. */
  admissionFacts?(obj: KubeObject): AdmissionFacts;
  /** Called on create after system metadata is set and before defaulting. */
  prepareForCreate?(obj: KubeObject): void;
  /**
   * Grace period in seconds before the object may be removed (pods on a node wait for the
   * agent); 0 deletes at once. `requested` is DeleteOptions.gracePeriodSeconds.
   */
  gracePeriodSeconds?(obj: KubeObject, requested: number | undefined): number;
  /** Finalization beyond `metadata.finalizers` still pending (a namespace's `spec.finalizers`). */
  hasPendingFinalization?(obj: KubeObject): boolean;
  /** Called when deletion starts (deletionTimestamp just set), e.g. phase Terminating. */
  onDeletionStarted?(obj: KubeObject): void;
  /**
   * Message of the 409 a second delete gets while finalization is pending; without it a
   * second delete returns the object unchanged.
   */
  readonly deleteWhilePendingMessage?: string;
  /** Immediate deletes return the last state of the object instead of a Status. */
  readonly returnsDeletedObject?: boolean;
}
