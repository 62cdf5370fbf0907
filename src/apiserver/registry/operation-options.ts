/**
 * The typed options of registry operations. The endpoints layer parses query strings and
 * bodies into these; the registry never sees HTTP.
 */
import type { FieldValidation } from '../../api/index.js';
import type { UserInfo } from '../filters/user-info.js';

export type { FieldValidation } from '../../api/index.js';
export type PropagationPolicy = 'Background' | 'Foreground' | 'Orphan';
export type ResourceVersionMatch = 'NotOlderThan' | 'Exact';

/** Context of a write: who writes, how strictly, and where warnings go. */
export interface WriteContext {
  /** Who writes: admission plugins decide on it (authorization happened before the registry). */
  readonly user: UserInfo;
  /** `dryRun=All`: run every step except the store write. */
  readonly dryRun: boolean;
  /** Field manager recorded in managedFields. */
  readonly fieldManager: string;
  readonly fieldValidation: FieldValidation;
  /** Warnings for the `Warning` response header; the registry appends to it. */
  readonly warnings: string[];
  /** Keys the request body repeated (reported like unknown fields under Strict and Warn). */
  readonly duplicateFields?: readonly string[];
}

export interface ListOptions {
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  /** 0 or undefined: no limit. */
  readonly limit?: number;
  readonly continueToken?: string;
  /** As sent by the client ('' = unset). */
  readonly resourceVersion?: string;
  readonly resourceVersionMatch?: ResourceVersionMatch;
}

export interface WatchOptions {
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  readonly resourceVersion?: string;
  readonly resourceVersionMatch?: ResourceVersionMatch;
  readonly allowWatchBookmarks: boolean;
  readonly sendInitialEvents?: boolean;
  /** Interval between bookmarks when allowed. */
  readonly bookmarkIntervalMs: number;
  readonly signal: AbortSignal;
}

export interface DeleteOptions {
  readonly gracePeriodSeconds?: number;
  readonly propagationPolicy?: PropagationPolicy;
  readonly orphanDependents?: boolean;
  readonly preconditions?: { readonly uid?: string; readonly resourceVersion?: string };
}

export type PatchType = 'json' | 'merge' | 'strategic' | 'apply';
