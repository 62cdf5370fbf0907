/**
 * Status causes worded as upstream's `field.Error` bodies, so `kubectl` prints what users know:
 * `spec.containers[0].image: Required value`,
 * `metadata.name: Invalid value: "Web": a lowercase RFC 1123 subdomain must ...`.
 */
import { invalid, type H8sError, type StatusCause } from '../../lib/index.js';

/** Renders a value as upstream's `field.Error` does (`%q` for strings, `%d` for numbers). */
export function formatFieldValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  if (value === null || value === undefined) return 'null';
  try {
    const text = JSON.stringify(value);
    return text.length > 256 ? `${text.slice(0, 253)}...` : text;
  } catch {
    return 'object';
  }
}

function cause(reason: string, field: string, message: string): StatusCause {
  return field === '' ? { reason, message } : { reason, message, field };
}

export function requiredCause(field: string, detail = ''): StatusCause {
  return cause('FieldValueRequired', field, detail === '' ? 'Required value' : `Required value: ${detail}`);
}

export function invalidCause(field: string, value: unknown, detail: string): StatusCause {
  const body = `Invalid value: ${formatFieldValue(value)}`;
  return cause('FieldValueInvalid', field, detail === '' ? body : `${body}: ${detail}`);
}

export function notSupportedCause(field: string, value: unknown, supported: readonly string[]): StatusCause {
  const list = supported.map((s) => JSON.stringify(s)).join(', ');
  const body = `Unsupported value: ${formatFieldValue(value)}`;
  return cause('FieldValueNotSupported', field, list === '' ? body : `${body}: supported values: ${list}`);
}

export function duplicateCause(field: string, value: unknown): StatusCause {
  return cause('FieldValueDuplicate', field, `Duplicate value: ${formatFieldValue(value)}`);
}

export function forbiddenCause(field: string, detail: string): StatusCause {
  return cause('FieldValueForbidden', field, `Forbidden: ${detail}`);
}

export function tooLongCause(field: string, maxLength: number): StatusCause {
  return cause('FieldValueTooLong', field, `Too long: may not be more than ${maxLength} bytes`);
}

export function tooManyCause(field: string, actual: number, max: number): StatusCause {
  return cause('FieldValueTooMany', field, `Too many: ${actual}: must have at most ${max} items`);
}

export function typeInvalidCause(field: string, value: unknown, detail: string): StatusCause {
  return cause('FieldValueTypeInvalid', field, `Invalid value: ${formatFieldValue(value)}: ${detail}`);
}

/** `Invalid value: "x": field is immutable` — the upstream cause for changed immutable fields. */
export function immutableCause(field: string, value: unknown): StatusCause {
  return invalidCause(field, value, 'field is immutable');
}

/** Checks `value` against a fixed set; pushes a NotSupported cause when it is not in it. */
export function checkSupported(
  causes: StatusCause[],
  field: string,
  value: unknown,
  supported: readonly string[],
): void {
  if (value === undefined) return;
  if (typeof value !== 'string' || !supported.includes(value))
    causes.push(notSupportedCause(field, value, supported));
}

/** Pushes an Invalid cause unless `value` is an integer in [min, max]. */
export function checkIntRange(
  causes: StatusCause[],
  field: string,
  value: number | undefined,
  min: number,
  max: number,
): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value < min || value > max) {
    causes.push(invalidCause(field, value, `must be between ${min} and ${max}, inclusive`));
  }
}

/** Pushes an Invalid cause when `value` is negative (upstream `ValidateNonnegativeField`). */
export function checkNonNegative(causes: StatusCause[], field: string, value: number | undefined): void {
  if (value !== undefined && value < 0) {
    causes.push(invalidCause(field, value, 'must be greater than or equal to 0'));
  }
}

/** One cause's text as kubectl prints it: `field: message`. */
export function causeText(c: StatusCause): string {
  return c.field ? `${c.field}: ${c.message}` : c.message;
}

/**
 * The Invalid error upstream's `errors.NewInvalid` produces:
 * `Pod "web" is invalid: spec.containers[0].image: Required value` (several causes are listed
 * in brackets). `details.kind` is the Kind, as upstream.
 */
export function invalidObjectError(
  kind: string,
  name: string,
  causes: readonly StatusCause[],
  group = '',
): H8sError {
  const texts = causes.map(causeText);
  const aggregate = texts.length === 1 ? (texts[0] as string) : `[${texts.join(', ')}]`;
  return invalid(`${kind} "${name}" is invalid: ${aggregate}`, {
    details: { name, group, kind, causes: [...causes] },
  });
}
