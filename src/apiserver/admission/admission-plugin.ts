/**
 * Admission plugins (upstream `k8s.io/apiserver/pkg/admission`): the server-side rules that
 * depend on more than the object itself (other objects, the user, the cluster's state), such
 * as namespace lifecycle, service accounts, node restriction, tenancy, quota and limit ranges.
 *
 * Where they run in a write, in upstream's order (authorization has already allowed it):
 *
 *   decode (api's `decodeForAdmission`)
 *   → mutating plugins, in order      may change `object`; see it decoded, before defaults
 *   → system metadata, defaults, validation (api's `completeAdmission`)
 *   → validating plugins, in order    read-only; see the object as it will be stored
 *   → managedFields, the store write
 *
 * A plugin refuses by throwing an H8sError (Forbidden, NotFound, Invalid, ...), which becomes
 * the request's Status; the first refusal ends the request. A plugin must not have side effects
 * when `dryRun` is set.
 *
 * A mutating plugin that takes something outside the object (a cluster IP, a node port) returns
 * an `AdmissionFinish`, which the registry calls once with what became of the write (upstream's
 * `BeginCreate`/`BeginUpdate` finish functions and `AfterDelete`): `refused` (a later step
 * refused it, the compare-and-swap lost, a dry run or a no-op), `stored` or `deleted`. So it can
 * give back what a refused write took and what a stored write let go.
 */
import type { KubeObject } from '../../api/index.js';
import type { UserInfo } from '../filters/user-info.js';
import type { AdmissionFacts } from '../registry/kind-strategy.js';

export type AdmissionOperation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

/** Everything about a request but its objects (upstream `admission.Attributes`). */
export interface AdmissionRequest {
  readonly operation: AdmissionOperation;
  /** The API group ('' for core), version and plural resource, e.g. `apps`, `v1`, `deployments`. */
  readonly group: string;
  readonly version: string;
  readonly resource: string;
  readonly kind: string;
  /** e.g. `status`, `scale`, `binding`, `finalize`; undefined for the main resource. */
  readonly subresource: string | undefined;
  /** Undefined for cluster-scoped resources. */
  readonly namespace: string | undefined;
  /**
   * The object's name; on a create with `generateName` (the name is generated after
   * admission), the prefix, as upstream names such an object in its errors.
   */
  readonly name: string;
  readonly userInfo: UserInfo;
  /** The write will not be stored: a plugin must not change anything else either. */
  readonly dryRun: boolean;
}

/** A request with its objects. */
export interface AdmissionAttributes extends AdmissionRequest {
  /**
   * The object being written (a create or update), which mutating plugins may change in place;
   * undefined for a delete. Whole objects also for subresource writes (status, scale, binding).
   */
  readonly object: KubeObject | undefined;
  /** The stored object an update or delete replaces; undefined for a create. */
  readonly oldObject: Readonly<KubeObject> | undefined;
}

export interface AdmissionPlugin {
  /** Upstream's plugin name (`NamespaceLifecycle`), for logs and configuration. */
  readonly name: string;
  /**
   * False when the plugin decides from the request alone and never reads or changes `object`
   * and `oldObject`: then a write worker may prepare the object off the event loop while the
   * plugin runs on it with no object at hand (as namespace lifecycle does).
   */
  readonly readsObject: boolean;
  /** Whether the plugin has a say in `request` (cheap: no object, no I/O). */
  handles(request: AdmissionRequest): boolean;
  /**
   * For a plugin with `readsObject` false that needs the object of some creates after all:
   * whether this create, given its kind's `AdmissionFacts`, must run with its object (then the
   * registry does the whole create on the event loop instead of using the worker's result).
   */
  needsPreparedObject?(request: AdmissionRequest, facts: AdmissionFacts | undefined): Promise<boolean>;
}

/** What became of a write that mutating admission let through. */
export type WriteOutcome = 'refused' | 'stored' | 'deleted';

/** Called once per admitted write with its outcome; never throws (it logs what fails). */
export type AdmissionFinish = (outcome: WriteOutcome) => Promise<void>;

export interface MutatingAdmissionPlugin extends AdmissionPlugin {
  /**
   * May change `attributes.object`; throws to refuse the request. May return a finish function
   * for the write's outcome (see the module comment).
   */
  admit(attributes: AdmissionAttributes): Promise<void | AdmissionFinish>;
}

export interface ValidatingAdmissionPlugin extends AdmissionPlugin {
  /** Throws to refuse the request; changes nothing. */
  validate(attributes: AdmissionAttributes): Promise<void>;
}
