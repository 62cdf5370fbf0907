/**
 * Parse, don't cast (STYLE.md, "TypeScript"): everything from outside is `unknown` until a
 * schema check returns a typed value or throws Invalid with field paths.
 *
 * Schemas are TypeBox definitions, which are JSON Schema documents, so one definition gives
 * the static type, the runtime check and the published schema.
 */
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import type { Static, TSchema } from '@sinclair/typebox';
import { invalid, type StatusCause } from './errors.js';

const compiled = new WeakMap<TSchema, TypeCheck<TSchema>>();

function checkerFor<T extends TSchema>(schema: T): TypeCheck<T> {
  let c = compiled.get(schema);
  if (!c) {
    c = TypeCompiler.Compile(schema);
    compiled.set(schema, c);
  }
  return c as TypeCheck<T>;
}

/** `/spec/containers/0/image` → `spec.containers[0].image`. */
export function pointerToFieldPath(pointer: string): string {
  if (pointer === '' || pointer === '/') return '';
  let out = '';
  for (const raw of pointer.split('/').slice(1)) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (/^\d+$/.test(part)) out += `[${part}]`;
    else out += out === '' ? part : `.${part}`;
  }
  return out;
}

/** The schema violations of `value`, as Status causes (at most `max`). */
export function schemaCauses(schema: TSchema, value: unknown, max = 20): StatusCause[] {
  const causes: StatusCause[] = [];
  const seen = new Set<string>();
  for (const e of checkerFor(schema).Errors(value)) {
    const field = pointerToFieldPath(e.path);
    const key = `${field}:${e.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    causes.push({
      reason: 'FieldValueInvalid',
      message: `Invalid value: ${e.message}`,
      ...(field ? { field } : {}),
    });
    if (causes.length >= max) break;
  }
  return causes;
}

/** Whether `value` matches `schema`. */
export function matchesSchema<T extends TSchema>(schema: T, value: unknown): value is Static<T> {
  return checkerFor(schema).Check(value);
}

/**
 * Returns `value` typed by `schema`.
 * @param what names the input in the error, e.g. `pod file "web.yaml"`.
 * @throws Invalid with one cause per violation.
 */
export function parseWith<T extends TSchema>(schema: T, value: unknown, what: string): Static<T> {
  if (checkerFor(schema).Check(value)) return value;
  const causes = schemaCauses(schema, value);
  const first = causes[0];
  const summary = first
    ? `${first.field ? first.field + ': ' : ''}${first.message}`
    : 'does not match its schema';
  throw invalid(`Invalid ${what}: ${summary}`, { details: { causes } });
}

/** JSON.parse that throws BadRequest-style Invalid instead of SyntaxError. */
export function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw invalid(`Invalid ${what}: ${(err as Error).message}`, { cause: err });
  }
}
