/**
 * Messages between the API server and its write workers (`write-pool.ts`, `write-worker.ts`).
 * Everything here crosses a thread boundary: plain data, byte arrays and errors in wire form
 * (`errorToWire`/`errorFromWire`).
 */
import type { WireError } from '../../lib/index.js';
import type { AdmissionFacts } from '../registry/kind-strategy.js';
import type { FieldValidation } from '../registry/operation-options.js';

/** The create of one JSON request body. */
export interface PrepareCreateRequest {
  readonly id: number;
  /** `<group>/<Kind>` of a built-in kind (`/Pod` for the core group). */
  readonly kind: string;
  readonly namespace: string | undefined;
  /** Where its body ends in the batch's `bodies` (it starts where the previous one ended). */
  readonly bodyEnd: number;
  readonly user: string;
  readonly fieldManager: string;
  readonly fieldValidation: FieldValidation;
  /** The server clock's time and a fresh uid: the worker has neither. */
  readonly nowMs: number;
  readonly uid: string;
}

/**
 * Test hooks: `crash` ends the worker with `code` (at once, or when the next request arrives,
 * before answering it); `stall` blocks the worker on the next request as a stuck one would.
 */
export interface TestHookRequest {
  readonly type: 'crash' | 'stall';
  readonly code: number;
  readonly onNextRequest: boolean;
}

/** The creates that arrived in one turn of the event loop: one message, one buffer of bodies. */
export interface PrepareCreatesRequest {
  readonly type: 'prepareCreates';
  readonly requests: readonly PrepareCreateRequest[];
  /** The bodies one after another (transferred, not copied). */
  readonly bodies: Uint8Array;
}

export type WorkerRequest = PrepareCreatesRequest | TestHookRequest;

export type PreparedReply =
  | {
      readonly id: number;
      readonly warnings: readonly string[];
      readonly ok: true;
      readonly name: string;
      readonly admissionName: string;
      readonly generated: boolean;
      readonly facts?: AdmissionFacts;
      /** Where its stored bytes end in the batch's `values`. */
      readonly valueEnd: number;
    }
  | {
      readonly id: number;
      readonly warnings: readonly string[];
      readonly ok: false;
      readonly stage: 'decode' | 'validate';
      readonly admissionName: string;
      readonly error: WireError;
      /** Where the previous value ended (errors have none). */
      readonly valueEnd: number;
    };

export type WorkerReply =
  | { readonly type: 'ready' }
  | {
      readonly type: 'prepared';
      readonly replies: readonly PreparedReply[];
      /** The stored bytes of the prepared objects one after another (transferred). */
      readonly values: Uint8Array;
    };
