/**
 * Keys, prefixes and revisions as every backend checks them, so that memory, sqlite and etcd
 * accept and reject exactly the same arguments.
 *
 * Order: keys sort by their UTF-8 bytes (etcd's order, and SQLite's BINARY collation of UTF-8
 * text). For well-formed strings that is code-point order, which differs from JavaScript's
 * UTF-16 `<` only where a surrogate pair meets a character in U+E000..U+FFFF.
 */
import { badRequest, expired, timeout, tooLarge } from '../lib/index.js';

// In unicode mode a valid surrogate pair is one code point, so only lone halves match.
const loneSurrogate = /\p{Cs}/u;

/** Longest key accepted, in UTF-8 bytes (Kubernetes keys are a few hundred bytes at most). */
export const maxKeyBytes = 4096;

/**
 * Checks a key: a non-empty, well-formed string without NUL, at most `maxKeyBytes` long.
 * @throws BadRequest naming what is wrong.
 */
export function validateKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key === '') {
    throw badRequest(`Invalid key ${describeKey(key)}: a key must be a non-empty string`);
  }
  validateKeyText(key, 'key');
}

/**
 * Checks a prefix (the empty prefix means every key).
 * @throws BadRequest naming what is wrong.
 */
export function validatePrefix(prefix: unknown): asserts prefix is string {
  if (typeof prefix !== 'string') {
    throw badRequest(`Invalid prefix ${describeKey(prefix)}: a prefix must be a string`);
  }
  validateKeyText(prefix, 'prefix');
}

function validateKeyText(text: string, what: string): void {
  if (loneSurrogate.test(text)) {
    throw badRequest(`Invalid ${what} ${describeKey(text)}: it contains a lone UTF-16 surrogate`);
  }
  if (text.includes('\0')) {
    throw badRequest(`Invalid ${what} ${describeKey(text)}: it contains a NUL character`);
  }
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > maxKeyBytes) {
    throw badRequest(`Invalid ${what}: it is ${bytes} bytes long, more than the limit of ${maxKeyBytes}`);
  }
}

function describeKey(key: unknown): string {
  if (typeof key !== 'string') return `of type ${key === null ? 'null' : typeof key}`;
  const shown = key.length > 80 ? key.slice(0, 80) + '…' : key;
  return JSON.stringify(shown);
}

/**
 * Checks a list's start key: any well-formed string under `prefix`. Unlike a stored key it may
 * contain NUL, because the key right after `k` in byte order is `k + "\0"` (how the apiserver
 * builds continue keys).
 * @throws BadRequest naming what is wrong.
 */
export function validateStartKey(startKey: unknown, prefix: string): asserts startKey is string {
  if (typeof startKey !== 'string' || startKey === '') {
    throw badRequest(`Invalid startKey ${describeKey(startKey)}: it must be a non-empty string`);
  }
  if (loneSurrogate.test(startKey)) {
    throw badRequest(`Invalid startKey ${describeKey(startKey)}: it contains a lone UTF-16 surrogate`);
  }
  if (Buffer.byteLength(startKey, 'utf8') > maxKeyBytes + 1) {
    throw badRequest(`Invalid startKey: it is longer than the key limit of ${maxKeyBytes} bytes`);
  }
  if (!startKey.startsWith(prefix)) {
    throw badRequest(
      `Invalid startKey ${describeKey(startKey)}: it does not start with the prefix ${describeKey(prefix)}`,
    );
  }
}

/** Checks a value: a Uint8Array no longer than `maxValueBytes`. */
export function validateValue(
  key: string,
  value: unknown,
  maxValueBytes: number,
): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw badRequest(`Invalid value for key "${key}": a value must be a Uint8Array`);
  }
  if (value.byteLength > maxValueBytes) {
    // A typed error the apiserver maps to 413, not a generic failure of the store.
    throw tooLargeValue(key, value.byteLength, maxValueBytes);
  }
}

function tooLargeValue(key: string, sizeBytes: number, maxValueBytes: number) {
  return tooLarge(
    `Cannot store key "${key}": the value is ${sizeBytes} bytes, more than the limit of ${maxValueBytes}`,
  );
}

/** Whether `key` lies under `prefix`. */
export function hasPrefix(key: string, prefix: string): boolean {
  return key.startsWith(prefix);
}

/**
 * The smallest string greater than every string that starts with `prefix`, in code-point order;
 * undefined for the empty prefix (no upper bound). Used as the exclusive end of a range scan.
 */
export function prefixEnd(prefix: string): string | undefined {
  const points = Array.from(prefix);
  while (points.length > 0) {
    const last = points.pop() as string;
    const cp = last.codePointAt(0) as number;
    if (cp < 0x10ffff) {
      const next = cp === 0xd7ff ? 0xe000 : cp + 1; // skip the surrogate range
      return points.join('') + String.fromCodePoint(next);
    }
  }
  return undefined;
}

/** Compares two keys in UTF-8 byte order (code-point order). */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return fixup(x) - fixup(y);
  }
  return a.length - b.length;
}

// Surrogates (D800..DFFF) encode code points above FFFF, so they must sort after E000..FFFF.
function fixup(unit: number): number {
  if (unit >= 0xe000) return unit - 0x800;
  if (unit >= 0xd800) return unit + 0x2000;
  return unit;
}

/**
 * Checks a revision argument: a non-negative safe integer.
 * @throws BadRequest naming the argument.
 */
export function validateRevision(revision: unknown, what: string): asserts revision is number {
  if (typeof revision !== 'number' || !Number.isSafeInteger(revision) || revision < 0) {
    throw badRequest(`Invalid ${what} ${String(revision)}: it must be a non-negative integer`);
  }
}

/**
 * Checks that a read at `revision` is possible.
 * @throws Timeout for a revision in the future; Expired for a compacted one.
 */
export function checkReadRevision(revision: number, current: number, compacted: number): void {
  if (revision > current) {
    throw timeout(`Revision ${revision} is in the future: the current revision is ${current}`);
  }
  if (revision < compacted) {
    throw compactedError(revision, compacted);
  }
}

/** The Gone error (code Expired) for a revision below the compacted window. */
export function compactedError(revision: number, compacted: number) {
  return expired(
    `Revision ${revision} has been compacted: the oldest revision still available is ${compacted}`,
  );
}
