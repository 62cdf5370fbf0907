/**
 * Field selectors (`?fieldSelector=spec.nodeName=n1,status.phase!=Failed`): only `=`, `==` and
 * `!=`, comma-AND, with `\,` `\=` `\\` escapes in values (apimachinery `fields`).
 */
import { badRequest } from '../../../lib/index.js';

export interface FieldRequirement {
  readonly field: string;
  readonly operator: '=' | '!=';
  readonly value: string;
}

/** Splits on unescaped commas. */
function splitTerms(selector: string): string[] {
  const terms: string[] = [];
  let cur = '';
  for (let i = 0; i < selector.length; i++) {
    const c = selector[i] as string;
    if (c === '\\' && i + 1 < selector.length) {
      cur += c + (selector[i + 1] as string);
      i++;
    } else if (c === ',') {
      terms.push(cur);
      cur = '';
    } else {
      cur += c;
    }
  }
  terms.push(cur);
  return terms;
}

function unescape(selector: string, value: string): string {
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i] as string;
    if (c === '\\') {
      const next = value[i + 1];
      if (next === '\\' || next === ',' || next === '=') {
        out += next;
        i++;
        continue;
      }
      throw badRequest(`Invalid field selector "${selector}": invalid escape sequence`);
    }
    if (c === ',' || c === '=')
      throw badRequest(`Invalid field selector "${selector}": unescaped "${c}" in value`);
    out += c;
  }
  return out;
}

/**
 * Parses a field selector. An empty string selects everything (no requirements).
 * @throws BadRequest for a term without an operator.
 */
export function parseFieldSelector(selector: string): FieldRequirement[] {
  if (selector.trim() === '') return [];
  const reqs: FieldRequirement[] = [];
  for (const term of splitTerms(selector)) {
    if (term === '') continue;
    const ne = term.indexOf('!=');
    const eq = term.indexOf('=');
    let field: string;
    let operator: '=' | '!=';
    let rest: string;
    if (ne >= 0 && ne <= eq - 1) {
      field = term.slice(0, ne);
      operator = '!=';
      rest = term.slice(ne + 2);
    } else if (eq >= 0) {
      field = term.slice(0, eq);
      operator = '=';
      rest = term.slice(term.startsWith('==', eq) ? eq + 2 : eq + 1);
    } else {
      throw badRequest(
        `Invalid field selector "${selector}": invalid selector: '${term}'; can't understand '${term}'`,
      );
    }
    field = field.trim();
    if (field === '') throw badRequest(`Invalid field selector "${selector}": empty field name in '${term}'`);
    reqs.push({ field, operator, value: unescape(selector, rest) });
  }
  return reqs;
}

/** Whether `fieldValue(field)` satisfies every requirement. */
export function matchesFieldSelector(
  requirements: readonly FieldRequirement[],
  fieldValue: (field: string) => string,
): boolean {
  for (const r of requirements) {
    const v = fieldValue(r.field);
    if (r.operator === '=' ? v !== r.value : v === r.value) return false;
  }
  return true;
}
