/**
 * `resource.Quantity`: fixed-point numbers with SI suffixes (`100m`, `1.5`, `2k`),
 * binary suffixes (`128Mi`, `1Gi`) or exponents (`1e3`), as used for CPU, memory and storage.
 *
 * Grammar (apimachinery `resource`): `[+-]` digits with an optional `.` fraction, then one of
 * `n u m "" k M G T P E` | `Ki Mi Gi Ti Pi Ei` | `e<int>` / `E<int>`.
 */
import { invalid } from '../../lib/index.js';

const quantityRe = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$/;

const multipliers: Readonly<Record<string, number>> = {
  '': 1,
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** Upstream's message for a malformed quantity. */
export const QUANTITY_INVALID_MESSAGE =
  "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

/** Parses a quantity into its value in base units, or undefined when malformed. */
export function findQuantity(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  const m = quantityRe.exec(value);
  if (!m) return undefined;
  const sign = m[1] === '-' ? -1 : 1;
  const num = Number(m[2]);
  const suffix = m[3] ?? '';
  let mult: number;
  if (suffix.startsWith('e') || suffix.startsWith('E')) {
    const exp = Number(suffix.slice(1));
    if (Math.abs(exp) > 308) return undefined;
    mult = 10 ** exp;
  } else {
    mult = multipliers[suffix] as number;
  }
  const result = sign * num * mult;
  return Number.isFinite(result) ? result : undefined;
}

/**
 * Parses a quantity into its value in base units: `parseQuantity("100m") === 0.1`,
 * `parseQuantity("128Mi") === 134217728`.
 * @throws Invalid when the text is not a quantity.
 */
export function parseQuantity(value: string | number): number {
  const n = findQuantity(value);
  if (n === undefined)
    throw invalid(`Invalid quantity ${JSON.stringify(value)}: ${QUANTITY_INVALID_MESSAGE}`);
  return n;
}

/** Whether `value` is a well-formed quantity. */
export function isQuantity(value: unknown): boolean {
  return (typeof value === 'string' || typeof value === 'number') && findQuantity(value) !== undefined;
}

/** The value in thousandths, rounded up as upstream's `MilliValue` does (CPU millicores). */
export function quantityMilliValue(value: string | number): number {
  return Math.ceil(roundFloat(parseQuantity(value) * 1000));
}

/** The value rounded up to an integer, as upstream's `Value` does (bytes). */
export function quantityValue(value: string | number): number {
  return Math.ceil(roundFloat(parseQuantity(value)));
}

/** Removes float noise (`0.1 * 1000 = 100.00000000000001`) before rounding up. */
function roundFloat(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}

/**
 * The string form of a quantity given as a JSON number (`1` → `"1"`, `0.5` → `"500m"`),
 * which is how upstream serializes a number it decoded.
 */
export function quantityFromNumber(n: number): string {
  if (Number.isInteger(n)) return String(n);
  const milli = roundFloat(n * 1000);
  if (Number.isInteger(milli)) return `${milli}m`;
  const micro = roundFloat(n * 1e6);
  if (Number.isInteger(micro)) return `${micro}u`;
  return `${Math.ceil(n * 1e9)}n`;
}
