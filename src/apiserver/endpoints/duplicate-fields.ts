/**
 * Duplicate keys in a JSON body, for strict field validation (`duplicate field "spec.replicas"`,
 * as upstream's strict decoder reports them). `JSON.parse` silently keeps the last value, so the
 * text is scanned once more; it has already parsed, so the scanner can assume valid JSON.
 */

interface Frame {
  readonly isObject: boolean;
  /** Where this container sits in its parent: a key, an index, or nothing for the root. */
  readonly slot: string | number | undefined;
  /** Keys seen so far: an array while small (most objects have a few keys), then a set. */
  keys: string[] | Set<string> | undefined;
  index: number;
  key: string | undefined;
  expectKey: boolean;
}

const smallKeys = 16;

/** The path of the container at `stack[depth - 1]` (paths are only built for duplicates). */
function pathOf(stack: readonly Frame[], depth: number): string {
  let p = '';
  for (let k = 1; k < depth; k++) {
    const slot = (stack[k] as Frame).slot;
    p = typeof slot === 'number' ? `${p}[${slot}]` : p === '' ? (slot ?? '') : `${p}.${slot ?? ''}`;
  }
  return p;
}

/** Records `key` in `frame`; false when the object already had it. */
function addKey(frame: Frame, key: string): boolean {
  const keys = frame.keys;
  if (keys === undefined) {
    frame.keys = [key];
    return true;
  }
  if (Array.isArray(keys)) {
    if (keys.includes(key)) return false;
    if (keys.length < smallKeys) keys.push(key);
    else frame.keys = new Set([...keys, key]);
    return true;
  }
  if (keys.has(key)) return false;
  keys.add(key);
  return true;
}

/** Paths of keys that appear twice in the same object (at most `max`). */
export function findDuplicateFields(text: string, max = 20): string[] {
  return scanJsonText(text, Number.MAX_SAFE_INTEGER, max).duplicates;
}

export interface JsonTextScan {
  /** Paths of keys an object repeats (at most the `maxDuplicates` first). */
  readonly duplicates: string[];
  /** True when objects/arrays nest deeper than `maxDepth` (the scan stops there). */
  readonly isTooDeep: boolean;
}

/** One pass over valid JSON text: duplicate keys and whether it nests too deep. */
export function scanJsonText(text: string, maxDepth: number, maxDuplicates = 20): JsonTextScan {
  const out: string[] = [];
  const stack: Frame[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (stack.length >= maxDepth) return { duplicates: out, isTooDeep: true };
      const parent = stack[stack.length - 1];
      stack.push({
        isObject: c === 0x7b,
        slot: parent === undefined ? undefined : parent.isObject ? (parent.key ?? '') : parent.index,
        keys: undefined,
        index: 0,
        key: undefined,
        expectKey: c === 0x7b,
      });
      i++;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
      i++;
    } else if (c === 0x2c /* , */) {
      const top = stack[stack.length - 1];
      if (top) {
        if (top.isObject) top.expectKey = true;
        else top.index++;
      }
      i++;
    } else if (c === 0x22 /* " */) {
      let j = i + 1;
      let escaped = false;
      while (j < n) {
        const d = text.charCodeAt(j);
        if (d === 0x5c /* \ */) {
          escaped = true;
          j += 2;
          continue;
        }
        if (d === 0x22) break;
        j++;
      }
      const top = stack[stack.length - 1];
      if (top?.isObject && top.expectKey) {
        const key = escaped ? (JSON.parse(text.slice(i, j + 1)) as string) : text.slice(i + 1, j);
        top.key = key;
        top.expectKey = false;
        if (!addKey(top, key) && out.length < maxDuplicates) {
          const path = pathOf(stack, stack.length);
          out.push(path === '' ? key : `${path}.${key}`);
        }
      }
      i = j + 1;
    } else {
      i++;
    }
  }
  return { duplicates: out, isTooDeep: false };
}
