/**
 * The shapes the client sends and receives on the wire, beside the objects themselves
 * (`KubeObject` from api): lists, watch events, Status, and the options of each verb.
 */
import type { KubeObject } from '../api/index.js';

/** A list as the API returns it; `items` always carry `apiVersion` and `kind` (the client fills them in). */
export interface ObjectList<T extends KubeObject = KubeObject> {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: {
    /** The store revision the list was read at; watch from it to see later changes. */
    readonly resourceVersion: string;
    /** Set when more pages follow (`limit` was given). */
    readonly continue?: string;
    readonly remainingItemCount?: number;
  };
  readonly items: T[];
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';

/**
 * One event of a watch stream. ERROR events never surface as events: the stream throws the
 * H8sError the Status maps to (e.g. Expired for a compacted revision).
 */
export type WatchEvent<T extends KubeObject = KubeObject> =
  | { readonly type: 'ADDED' | 'MODIFIED' | 'DELETED'; readonly object: T }
  | {
      readonly type: 'BOOKMARK';
      /** Only `metadata.resourceVersion` (and maybe annotations) is meaningful. */
      readonly object: KubeObject;
    };

/** A `meta.k8s.io/v1` Status as the server sends it. */
export interface StatusObject {
  readonly kind: 'Status';
  readonly apiVersion?: string;
  readonly status?: 'Success' | 'Failure';
  readonly message?: string;
  readonly reason?: string;
  readonly code?: number;
  readonly details?: {
    readonly name?: string;
    readonly group?: string;
    readonly kind?: string;
    readonly uid?: string;
    readonly causes?: readonly { reason?: string; message?: string; field?: string }[];
    readonly retryAfterSeconds?: number;
  };
}

export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';

/** Options every call takes. */
export interface CallOptions {
  /** Aborts the request; the call rejects with the signal's reason. */
  readonly signal?: AbortSignal | undefined;
  /** Overrides the client's request timeout for this call. */
  readonly timeoutMs?: number | undefined;
}

export interface GetOptions extends CallOptions {
  /** `"0"` lets the server answer from any cached state. */
  readonly resourceVersion?: string | undefined;
}

export interface ListOptions extends CallOptions {
  readonly labelSelector?: string | undefined;
  readonly fieldSelector?: string | undefined;
  readonly limit?: number | undefined;
  readonly continue?: string | undefined;
  readonly resourceVersion?: string | undefined;
  readonly resourceVersionMatch?: 'NotOlderThan' | 'Exact' | undefined;
}

export interface WatchOptions extends CallOptions {
  readonly labelSelector?: string | undefined;
  readonly fieldSelector?: string | undefined;
  /** Only changes after this revision; unset or `"0"` starts with a synthetic ADDED per object. */
  readonly resourceVersion?: string | undefined;
  readonly allowWatchBookmarks?: boolean | undefined;
  /** The server ends the stream cleanly after this long. */
  readonly timeoutSeconds?: number | undefined;
  readonly sendInitialEvents?: boolean | undefined;
  readonly resourceVersionMatch?: 'NotOlderThan' | 'Exact' | undefined;
  /** Client side: called once the server has accepted the watch (200 and headers received). */
  readonly onOpen?: (() => void) | undefined;
}

export interface WriteOptions extends CallOptions {
  readonly dryRun?: boolean | undefined;
  readonly fieldManager?: string | undefined;
  readonly fieldValidation?: FieldValidation | undefined;
}

export type PatchType = 'json' | 'merge' | 'strategic' | 'apply';

export interface PatchOptions extends WriteOptions {
  readonly type: PatchType;
  /** Server-side apply only: take over fields owned by other managers. */
  readonly force?: boolean | undefined;
  /** e.g. `status` or `scale`. */
  readonly subresource?: string | undefined;
}

export type PropagationPolicy = 'Background' | 'Foreground' | 'Orphan';

export interface DeleteOptions extends CallOptions {
  readonly propagationPolicy?: PropagationPolicy | undefined;
  /** The delete fails with Conflict unless the object still has this uid / resourceVersion. */
  readonly preconditions?:
    { readonly uid?: string | undefined; readonly resourceVersion?: string | undefined } | undefined;
  readonly gracePeriodSeconds?: number | undefined;
  readonly dryRun?: boolean | undefined;
}

export type DeleteCollectionOptions = DeleteOptions &
  Pick<ListOptions, 'labelSelector' | 'fieldSelector' | 'limit' | 'continue' | 'resourceVersion'>;
