/**
 * Label selectors: the `metav1.LabelSelector` schema, the string syntax of `?labelSelector=`
 * (`app=web,tier!=db,env in (a,b),!canary`), conversion between the two, and matching.
 *
 * Semantics follow apimachinery `labels`: `!=`/`notin` match objects without the key; a nil
 * selector object matches nothing, an empty one everything.
 */
import type { Static } from '@sinclair/typebox';
import { badRequest, type StatusCause } from '../../../lib/index.js';
import { list, object, str, stringList, stringMap } from '../../schema/fields.js';
import {
  invalidCause,
  notSupportedCause,
  requiredCause,
  forbiddenCause,
} from '../../validation/field-causes.js';
import { checkLabelValue, checkQualifiedName } from '../../validation/names.js';
import { validateLabels } from './object-meta.js';

export const LabelSelectorRequirementSchema = object(
  'io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelectorRequirement',
  'A label selector requirement is a selector that contains values, a key, and an operator that relates the key and values.',
  {
    key: str('key is the label key that the selector applies to.'),
    operator: str(
      "operator represents a key's relationship to a set of values. Valid operators are In, NotIn, Exists and DoesNotExist.",
    ),
    values: stringList(
      'values is an array of string values. If the operator is In or NotIn, the values array must be non-empty. If the operator is Exists or DoesNotExist, the values array must be empty.',
      { 'x-kubernetes-list-type': 'atomic' },
    ),
  },
  { required: ['key', 'operator'] },
);

export const LabelSelectorSchema = object(
  'io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector',
  'A label selector is a label query over a set of resources. The result of matchLabels and matchExpressions are ANDed. An empty label selector matches all objects. A null label selector matches no objects.',
  {
    matchLabels: stringMap(
      'matchLabels is a map of {key,value} pairs. A single {key,value} in the matchLabels map is equivalent to an element of matchExpressions, whose key field is "key", the operator is "In", and the values array contains only "value".',
    ),
    matchExpressions: list(
      LabelSelectorRequirementSchema,
      'matchExpressions is a list of label selector requirements. The requirements are ANDed.',
      {
        listType: 'atomic',
      },
    ),
  },
  { extra: { 'x-kubernetes-map-type': 'atomic' } },
);

/** `metav1.LabelSelector` as JSON. */
export type LabelSelector = Static<typeof LabelSelectorSchema>;
export type LabelSelectorRequirement = Static<typeof LabelSelectorRequirementSchema>;

/** One parsed requirement. `In`/`NotIn` with one value are the `=`/`!=` forms. */
export type LabelRequirement =
  | { readonly key: string; readonly operator: 'In' | 'NotIn'; readonly values: readonly string[] }
  | { readonly key: string; readonly operator: 'Exists' | 'DoesNotExist' }
  | { readonly key: string; readonly operator: 'Gt' | 'Lt'; readonly value: number };

/** A parsed selector: all requirements must hold. `matchesNothing` is the nil-selector case. */
export interface ParsedLabelSelector {
  readonly requirements: readonly LabelRequirement[];
  readonly matchesNothing: boolean;
}

/** The selector that matches every object. */
export const EVERYTHING: ParsedLabelSelector = Object.freeze({ requirements: [], matchesNothing: false });
/** The selector that matches no object (a nil LabelSelector). */
export const NOTHING: ParsedLabelSelector = Object.freeze({ requirements: [], matchesNothing: true });

function fail(selector: string, detail: string): never {
  throw badRequest(`Unable to parse label selector "${selector}": ${detail}`);
}

function checkKey(selector: string, key: string): void {
  const errs = checkQualifiedName(key);
  if (errs.length > 0) fail(selector, `invalid label key "${key}": ${errs.join('; ')}`);
}

function checkValue(selector: string, value: string): void {
  const errs = checkLabelValue(value);
  if (errs.length > 0) fail(selector, `invalid label value: "${value}": at key: ${errs.join('; ')}`);
}

/** Splits on top-level commas (commas inside `( )` belong to value sets). */
function splitRequirements(selector: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < selector.length; i++) {
    const c = selector[i];
    if (c === '(') depth++;
    else if (c === ')') depth = Math.max(0, depth - 1);
    else if (c === ',' && depth === 0) {
      parts.push(selector.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(selector.slice(start));
  return parts;
}

const setRe = /^([^\s!=<>(),]+)\s+(in|notin)\s*\(([^()]*)\)$/;
const binaryRe = /^([^\s!=<>(),]+)\s*(==|=|!=|>|<)\s*([^\s!=<>(),]*)$/;
const existsRe = /^(!?)\s*([^\s!=<>(),]+)$/;

/**
 * Parses the `labelSelector` query syntax. An empty string selects everything.
 * @throws BadRequest naming the selector and what is wrong with it.
 */
export function parseLabelSelector(selector: string): ParsedLabelSelector {
  const trimmed = selector.trim();
  if (trimmed === '') return EVERYTHING;
  const requirements: LabelRequirement[] = [];
  for (const raw of splitRequirements(trimmed)) {
    const part = raw.trim();
    if (part === '') fail(selector, 'found an empty requirement');
    let m = setRe.exec(part);
    if (m) {
      const key = m[1] as string;
      checkKey(selector, key);
      const values = (m[3] as string)
        .split(',')
        .map((v) => v.trim())
        .filter((v, i, all) => !(v === '' && all.length === 1));
      if (values.length === 0) fail(selector, `for 'in', 'notin' operators, values set can't be empty`);
      for (const v of values) checkValue(selector, v);
      requirements.push({ key, operator: m[2] === 'in' ? 'In' : 'NotIn', values: [...new Set(values)] });
      continue;
    }
    m = binaryRe.exec(part);
    if (m) {
      const key = m[1] as string;
      const op = m[2] as string;
      const value = m[3] as string;
      checkKey(selector, key);
      if (op === '>' || op === '<') {
        if (!/^-?\d+$/.test(value)) fail(selector, `for 'Gt', 'Lt' operators, the value must be an integer`);
        requirements.push({ key, operator: op === '>' ? 'Gt' : 'Lt', value: Number(value) });
      } else {
        checkValue(selector, value);
        requirements.push({ key, operator: op === '!=' ? 'NotIn' : 'In', values: [value] });
      }
      continue;
    }
    m = existsRe.exec(part);
    if (m) {
      const key = m[2] as string;
      checkKey(selector, key);
      requirements.push({ key, operator: m[1] === '!' ? 'DoesNotExist' : 'Exists' });
      continue;
    }
    fail(selector, `cannot parse requirement "${part}"`);
  }
  return { requirements, matchesNothing: false };
}

/**
 * Converts a `metav1.LabelSelector` object to a parsed selector: undefined/null matches
 * nothing, `{}` everything (upstream `LabelSelectorAsSelector`).
 * @throws BadRequest for an unknown operator or bad values (validation normally caught them).
 */
export function labelSelectorFromObject(sel: LabelSelector | null | undefined): ParsedLabelSelector {
  if (sel === null || sel === undefined) return NOTHING;
  const requirements: LabelRequirement[] = [];
  for (const [key, value] of Object.entries(sel.matchLabels ?? {})) {
    requirements.push({ key, operator: 'In', values: [value] });
  }
  for (const expr of sel.matchExpressions ?? []) {
    if (!expr.key) throw badRequest('Invalid label selector: a requirement has no key');
    switch (expr.operator) {
      case 'In':
      case 'NotIn':
        if (!expr.values || expr.values.length === 0) {
          throw badRequest(
            `Invalid label selector: values for "${expr.key}" must be non-empty for operator ${expr.operator}`,
          );
        }
        requirements.push({ key: expr.key, operator: expr.operator, values: [...new Set(expr.values)] });
        break;
      case 'Exists':
      case 'DoesNotExist':
        requirements.push({ key: expr.key, operator: expr.operator });
        break;
      default:
        throw badRequest(`Invalid label selector: "${expr.operator}" is not a valid label selector operator`);
    }
  }
  return { requirements, matchesNothing: false };
}

/** Whether `labels` satisfy `selector`. */
export function matchesLabelSelector(
  selector: ParsedLabelSelector,
  labels: Readonly<Record<string, string>> | undefined,
): boolean {
  if (selector.matchesNothing) return false;
  for (const r of selector.requirements) {
    const has = labels !== undefined && Object.prototype.hasOwnProperty.call(labels, r.key);
    const value = has ? (labels as Record<string, string>)[r.key] : undefined;
    switch (r.operator) {
      case 'In':
        if (!has || !r.values.includes(value as string)) return false;
        break;
      case 'NotIn':
        if (has && r.values.includes(value as string)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      case 'Gt':
      case 'Lt': {
        if (!has || !/^-?\d+$/.test(value as string)) return false;
        const n = Number(value);
        if (r.operator === 'Gt' ? !(n > r.value) : !(n < r.value)) return false;
        break;
      }
    }
  }
  return true;
}

/** Whether the selector is empty (matches everything). */
export function isEverything(selector: ParsedLabelSelector): boolean {
  return !selector.matchesNothing && selector.requirements.length === 0;
}

/**
 * The canonical string form, as upstream prints it (`Scale.status.selector`, `kubectl
 * describe`): requirements sorted by key, set values sorted.
 */
export function labelSelectorToString(selector: ParsedLabelSelector): string {
  const parts = [...selector.requirements]
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map((r) => {
      switch (r.operator) {
        case 'In':
          return r.values.length === 1
            ? `${r.key}=${r.values[0]}`
            : `${r.key} in (${[...r.values].sort().join(',')})`;
        case 'NotIn':
          return r.values.length === 1
            ? `${r.key}!=${r.values[0]}`
            : `${r.key} notin (${[...r.values].sort().join(',')})`;
        case 'Exists':
          return r.key;
        case 'DoesNotExist':
          return `!${r.key}`;
        case 'Gt':
          return `${r.key}>${r.value}`;
        case 'Lt':
          return `${r.key}<${r.value}`;
      }
    });
  return parts.join(',');
}

/**
 * Upstream `ValidateLabelSelector`: operators, values presence, key and value syntax.
 * @param field path of the selector, e.g. `spec.selector`.
 */
export function validateLabelSelector(sel: LabelSelector | undefined, field: string): StatusCause[] {
  const causes: StatusCause[] = [];
  if (!sel) return causes;
  causes.push(...validateLabels(sel.matchLabels, `${field}.matchLabels`));
  (sel.matchExpressions ?? []).forEach((expr, i) => {
    const p = `${field}.matchExpressions[${i}]`;
    const n = expr.values?.length ?? 0;
    switch (expr.operator) {
      case 'In':
      case 'NotIn':
        if (n === 0)
          causes.push(requiredCause(`${p}.values`, "must be specified when `operator` is 'In' or 'NotIn'"));
        break;
      case 'Exists':
      case 'DoesNotExist':
        if (n > 0)
          causes.push(
            forbiddenCause(
              `${p}.values`,
              "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            ),
          );
        break;
      default:
        causes.push(
          notSupportedCause(`${p}.operator`, expr.operator, ['In', 'NotIn', 'Exists', 'DoesNotExist']),
        );
    }
    if (!expr.key) causes.push(requiredCause(`${p}.key`));
    else for (const msg of checkQualifiedName(expr.key)) causes.push(invalidCause(`${p}.key`, expr.key, msg));
    (expr.values ?? []).forEach((v, j) => {
      for (const msg of checkLabelValue(v)) causes.push(invalidCause(`${p}.values[${j}]`, v, msg));
    });
  });
  return causes;
}
