/**
 * A write worker thread (see `write-pool.ts`): decodes, checks, defaults, validates and encodes
 * create requests of the built-in kinds with the same pure pipeline the event loop runs
 * (`prepareCreate`: api's decode and completion steps, managedFields, encoding). It never
 * writes and holds no server state; admission and the store write stay on the event loop.
 */
import { parentPort } from 'node:worker_threads';
import { allKinds, type KindDefinition } from '../../api/index.js';
import { errorToWire, internal } from '../../lib/index.js';
import { decodeJsonBody } from '../endpoints/request-body.js';
import { randomNameSuffix } from '../registry/api-registry.js';
import { prepareCreate } from '../registry/prepared-create.js';
import type {
  PrepareCreateRequest,
  PreparedReply,
  WorkerReply,
  WorkerRequest,
} from './write-worker-protocol.js';

const kinds = new Map<string, KindDefinition>();
for (const def of allKinds()) kinds.set(`${def.group}/${def.kind}`, def);

/** A test hook waiting for the next request. */
let onNextRequest: (() => void) | undefined;

parentPort?.on('message', (req: WorkerRequest) => {
  if (req.type !== 'prepareCreates') {
    const code = req.code;
    const hook =
      req.type === 'crash'
        ? () => process.exit(code)
        : () => void Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 600_000);
    if (req.onNextRequest) onNextRequest = hook;
    else hook();
    return;
  }
  if (onNextRequest) {
    const hook = onNextRequest;
    onNextRequest = undefined;
    hook();
  }
  const replies: PreparedReply[] = [];
  const values: Uint8Array[] = [];
  let valueEnd = 0;
  let bodyStart = 0;
  const bodies = Buffer.from(req.bodies.buffer, req.bodies.byteOffset, req.bodies.byteLength);
  for (const r of req.requests) {
    const out = prepare(r, bodies.subarray(bodyStart, r.bodyEnd));
    bodyStart = r.bodyEnd;
    if (out.value) {
      values.push(out.value);
      valueEnd += out.value.length;
    }
    replies.push({ ...out.reply, valueEnd } as PreparedReply);
  }
  const all = new Uint8Array(valueEnd);
  let at = 0;
  for (const v of values) {
    all.set(v, at);
    at += v.length;
  }
  const msg: WorkerReply = { type: 'prepared', replies, values: all };
  parentPort?.postMessage(msg, [all.buffer]);
});

type ReplyWithoutEnd =
  | Omit<Extract<PreparedReply, { ok: true }>, 'valueEnd'>
  | Omit<Extract<PreparedReply, { ok: false }>, 'valueEnd'>;

function prepare(req: PrepareCreateRequest, body: Buffer): { reply: ReplyWithoutEnd; value?: Uint8Array } {
  const warnings: string[] = [];
  const def = kinds.get(req.kind);
  if (!def) {
    const error = errorToWire(internal(`A write worker does not serve kind ${req.kind}`));
    return { reply: { id: req.id, warnings, ok: false, stage: 'decode', admissionName: '', error } };
  }
  let value: unknown;
  let duplicates: string[];
  try {
    ({ value, duplicates } = decodeJsonBody(body));
  } catch (err) {
    return {
      reply: { id: req.id, warnings, ok: false, stage: 'decode', admissionName: '', error: errorToWire(err) },
    };
  }
  const p = prepareCreate(def, value, {
    namespace: req.namespace,
    ...(duplicates.length > 0 ? { duplicateFields: duplicates } : {}),
    fieldManager: req.fieldManager,
    fieldValidation: req.fieldValidation,
    warnings,
    nowMs: req.nowMs,
    uid: req.uid,
    nameSuffix: randomNameSuffix,
  });
  if (p.ok) {
    return {
      reply: {
        id: req.id,
        warnings,
        ok: true,
        name: p.name,
        admissionName: p.admissionName,
        generated: p.generated,
        ...(p.facts ? { facts: p.facts } : {}),
      },
      value: p.value,
    };
  }
  return {
    reply: {
      id: req.id,
      warnings,
      ok: false,
      stage: p.stage,
      admissionName: p.admissionName,
      error: errorToWire(p.error),
    },
  };
}

parentPort?.postMessage({ type: 'ready' } satisfies WorkerReply);
