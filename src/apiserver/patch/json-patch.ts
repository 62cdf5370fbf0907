/**
 * JSON Patch (RFC 6902), `application/json-patch+json`: the default patch type of
 * @kubernetes/client-node and `kubectl patch --type json`.
 *
 * Errors: a patch document that is not a list of operations is BadRequest (400); an operation
 * that cannot apply (missing path, failed `test`) is Invalid (422), as upstream answers.
 */
import { badRequest, invalid, isRecord } from '../../lib/index.js';

/** Upstream caps the operations of one JSON patch (`maxJSONPatchOperations`). */
export const maxJsonPatchOperations = 10_000;

type Json = unknown;

interface Operation {
  readonly op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  readonly path: string;
  readonly from?: string;
  readonly value?: Json;
  readonly hasValue: boolean;
}

const ops = new Set(['add', 'remove', 'replace', 'move', 'copy', 'test']);

/** Validates the shape of a JSON patch document. @throws BadRequest */
export function parseJsonPatch(doc: unknown): Operation[] {
  if (!Array.isArray(doc)) {
    throw badRequest(
      'The JSON patch must be a list of operations, e.g. [{"op":"add","path":"/a","value":1}]',
    );
  }
  if (doc.length > maxJsonPatchOperations) {
    throw tooManyOps(doc.length);
  }
  return doc.map((raw, i) => {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw badRequest(`JSON patch operation ${i} is not an object`);
    }
    const o = raw as Record<string, unknown>;
    const op = o['op'];
    if (typeof op !== 'string' || !ops.has(op)) {
      throw badRequest(`JSON patch operation ${i} has an unknown "op" ${JSON.stringify(op ?? null)}`);
    }
    const path = o['path'];
    if (typeof path !== 'string') throw badRequest(`JSON patch operation ${i} ("${op}") is missing "path"`);
    parsePointer(path);
    const from = o['from'];
    if ((op === 'move' || op === 'copy') && typeof from !== 'string') {
      throw badRequest(`JSON patch operation ${i} ("${op}") is missing "from"`);
    }
    if (typeof from === 'string') parsePointer(from);
    const hasValue = Object.prototype.hasOwnProperty.call(o, 'value');
    if ((op === 'add' || op === 'replace' || op === 'test') && !hasValue) {
      throw badRequest(`JSON patch operation ${i} ("${op}") is missing "value"`);
    }
    return {
      op: op as Operation['op'],
      path,
      ...(typeof from === 'string' ? { from } : {}),
      value: o['value'],
      hasValue,
    };
  });
}

function tooManyOps(n: number): Error {
  return invalid(`The allowed maximum operations in a JSON patch is ${maxJsonPatchOperations}, got ${n}`);
}

/** RFC 6901 pointer → tokens. @throws BadRequest */
export function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw badRequest(`Invalid JSON pointer "${pointer}": it must start with "/"`);
  return pointer
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function clone<T>(v: T): T {
  return v === undefined ? v : (structuredClone(v) as T);
}

function arrayIndex(token: string, length: number, forAdd: boolean, pointer: string): number {
  if (forAdd && token === '-') return length;
  if (!/^(0|[1-9]\d*)$/.test(token)) {
    throw invalid(`Cannot apply the JSON patch: "${token}" in "${pointer}" is not an array index`);
  }
  const i = Number(token);
  if (i > length || (!forAdd && i === length)) {
    throw invalid(`Cannot apply the JSON patch: index ${i} in "${pointer}" is out of range`);
  }
  return i;
}

function parentOf(doc: Json, tokens: string[], pointer: string): { parent: Json; last: string } {
  let cur = doc;
  for (let i = 0; i < tokens.length - 1; i++) {
    const t = tokens[i] as string;
    if (Array.isArray(cur)) cur = cur[arrayIndex(t, cur.length, false, pointer)];
    else if (isRecord(cur) && Object.prototype.hasOwnProperty.call(cur, t)) cur = cur[t];
    else throw invalid(`Cannot apply the JSON patch: path "${pointer}" does not exist`);
  }
  return { parent: cur, last: tokens[tokens.length - 1] as string };
}

function getAt(doc: Json, pointer: string): Json {
  let cur = doc;
  for (const t of parsePointer(pointer)) {
    if (Array.isArray(cur)) cur = cur[arrayIndex(t, cur.length, false, pointer)];
    else if (isRecord(cur) && Object.prototype.hasOwnProperty.call(cur, t)) cur = cur[t];
    else throw invalid(`Cannot apply the JSON patch: path "${pointer}" does not exist`);
  }
  return cur;
}

function addAt(doc: Json, pointer: string, value: Json): Json {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) return value;
  const { parent, last } = parentOf(doc, tokens, pointer);
  if (Array.isArray(parent)) parent.splice(arrayIndex(last, parent.length, true, pointer), 0, value);
  else if (isRecord(parent)) parent[last] = value;
  else throw invalid(`Cannot apply the JSON patch: the parent of "${pointer}" is not an object or array`);
  return doc;
}

function removeAt(doc: Json, pointer: string): Json {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) throw invalid('Cannot apply the JSON patch: cannot remove the whole document');
  const { parent, last } = parentOf(doc, tokens, pointer);
  if (Array.isArray(parent)) parent.splice(arrayIndex(last, parent.length, false, pointer), 1);
  else if (isRecord(parent) && Object.prototype.hasOwnProperty.call(parent, last)) delete parent[last];
  else throw invalid(`Cannot apply the JSON patch: path "${pointer}" does not exist`);
  return doc;
}

function replaceAt(doc: Json, pointer: string, value: Json): Json {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) return value;
  const { parent, last } = parentOf(doc, tokens, pointer);
  if (Array.isArray(parent)) parent[arrayIndex(last, parent.length, false, pointer)] = value;
  else if (isRecord(parent) && Object.prototype.hasOwnProperty.call(parent, last)) parent[last] = value;
  else throw invalid(`Cannot apply the JSON patch: path "${pointer}" does not exist`);
  return doc;
}

/** Deep equality of JSON values (object key order ignored). */
export function jsonEqual(a: Json, b: Json): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => jsonEqual(x, bb[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao);
  if (ak.length !== Object.keys(bo).length) return false;
  return ak.every((k) => Object.prototype.hasOwnProperty.call(bo, k) && jsonEqual(ao[k], bo[k]));
}

/**
 * Applies `patch` (already parsed) to a copy of `doc` and returns the result.
 * @throws BadRequest for a malformed patch; Invalid when an operation cannot apply.
 */
export function applyJsonPatch(doc: Json, patch: unknown): Json {
  const operations = parseJsonPatch(patch);
  let out = clone(doc);
  for (const o of operations) {
    switch (o.op) {
      case 'add':
        out = addAt(out, o.path, clone(o.value));
        break;
      case 'remove':
        out = removeAt(out, o.path);
        break;
      case 'replace':
        out = replaceAt(out, o.path, clone(o.value));
        break;
      case 'move': {
        const from = o.from as string;
        if (o.path.startsWith(from + '/')) {
          throw invalid(`Cannot apply the JSON patch: cannot move "${from}" into its own child "${o.path}"`);
        }
        const v = getAt(out, from);
        out = removeAt(out, from);
        out = addAt(out, o.path, v);
        break;
      }
      case 'copy':
        out = addAt(out, o.path, clone(getAt(out, o.from as string)));
        break;
      case 'test':
        if (!jsonEqual(getAt(out, o.path), o.value)) {
          throw invalid(`Cannot apply the JSON patch: test of "${o.path}" failed`);
        }
        break;
    }
  }
  return out;
}
