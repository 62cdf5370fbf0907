/**
 * The messages between the SQLite store (event-loop thread) and its writer thread
 * (`sqlite-writer.ts`). Types only: the writer thread loads nothing but better-sqlite3.
 *
 * Every request carries an id; the writer answers each one, in order, with the same id.
 * Errors travel as H8sErrors in wire form (`errorFromWire`), classified by the writer, which
 * alone knows the driver's code (`sqlite-failure.ts`).
 */
import type { WireError } from '../../lib/index.js';

/** A write as the writer applies it: compare-and-swap against the state so far. */
export type WireOp =
  | { readonly kind: 'create'; readonly key: string; readonly value: Uint8Array }
  | {
      readonly kind: 'update';
      readonly key: string;
      readonly value: Uint8Array;
      readonly expected: number;
    }
  | { readonly kind: 'delete'; readonly key: string; readonly expected: number };

export interface WireKeyValue {
  readonly key: string;
  readonly value: Uint8Array;
  readonly createRevision: number;
  readonly modRevision: number;
}

/**
 * The outcome of one write. Success: its revision, its createRevision and (update, delete) the
 * state it replaced. Failure: why, and the key's state when it exists. `error`: the write
 * could not be applied at all (an SQLite error, e.g. ServiceUnavailable for SQLITE_FULL).
 */
export type WireOutcome =
  | {
      readonly ok: true;
      readonly revision: number;
      readonly createRevision: number;
      readonly prev?: WireKeyValue;
    }
  | {
      readonly ok: false;
      readonly reason: 'exists' | 'notFound' | 'conflict';
      readonly revision: number;
      readonly current?: WireKeyValue;
    }
  | { readonly error: WireError };

export interface WriterInit {
  readonly path: string;
  readonly synchronous: 'full' | 'normal';
}

export type WriterRequest =
  | { readonly id: number; readonly type: 'batch'; readonly ops: readonly WireOp[] }
  /** Records a new compacted revision (the logical step of compaction). */
  | { readonly id: number; readonly type: 'setCompacted'; readonly revision: number }
  /** Deletes up to `limit` rows that compaction made unreachable, after `scan`, through `target`. */
  | {
      readonly id: number;
      readonly type: 'compactChunk';
      readonly scan: number;
      readonly target: number;
      readonly limit: number;
    }
  | { readonly id: number; readonly type: 'close' };

export type WriterReply =
  | { readonly id: 0; readonly type: 'ready'; readonly revision: number }
  | { readonly id: 0; readonly type: 'failed'; readonly error: WireError }
  | { readonly id: number; readonly type: 'batch'; readonly outcomes: readonly WireOutcome[] }
  | { readonly id: number; readonly type: 'done' }
  | { readonly id: number; readonly type: 'compactChunk'; readonly scan: number; readonly isAtHead: boolean }
  | { readonly id: number; readonly type: 'error'; readonly error: WireError };
