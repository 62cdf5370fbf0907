/**
 * Name, label and identifier rules with upstream's error texts (apimachinery
 * `util/validation`). Each `check*` returns the problems as messages; an empty array means valid.
 */
import type { NameRule } from '../kind-definition.js';

export type { NameRule };

const DNS1123_LABEL_MAX = 63;
const DNS1123_SUBDOMAIN_MAX = 253;
const DNS1035_LABEL_MAX = 63;
const LABEL_VALUE_MAX = 63;
const QUALIFIED_NAME_MAX = 63;

const dns1123LabelFmt = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const dns1123SubdomainFmt = `${dns1123LabelFmt}(\\.${dns1123LabelFmt})*`;
const dns1035LabelFmt = '[a-z]([-a-z0-9]*[a-z0-9])?';
const qualifiedNameFmt = '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]';
const labelValueFmt = `(${qualifiedNameFmt})?`;

const dns1123LabelRe = new RegExp(`^${dns1123LabelFmt}$`);
const dns1123SubdomainRe = new RegExp(`^${dns1123SubdomainFmt}$`);
const dns1035LabelRe = new RegExp(`^${dns1035LabelFmt}$`);
const qualifiedNameRe = new RegExp(`^${qualifiedNameFmt}$`);
const labelValueRe = new RegExp(`^${labelValueFmt}$`);
const cIdentifierRe = /^[A-Za-z_][A-Za-z0-9_]*$/;
const ianaSvcNameLettersRe = /[a-z]/;
const ianaSvcNameCharsRe = /^[-a-z0-9]+$/;

function maxLenMsg(n: number): string {
  return `must be no more than ${n} characters`;
}

function regexMsg(what: string, fmt: string, examples: readonly string[]): string {
  const ex = examples.map((e) => `'${e}'`).join(',  or ');
  return `${what} (e.g. ${ex}, regex used for validation is '${fmt}')`;
}

/** RFC 1123 label: lower-case alphanumerics and '-', at most 63 characters (namespace names). */
export function checkDns1123Label(value: string): string[] {
  const errs: string[] = [];
  if (value.length > DNS1123_LABEL_MAX) errs.push(maxLenMsg(DNS1123_LABEL_MAX));
  if (!dns1123LabelRe.test(value)) {
    errs.push(
      regexMsg(
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
        dns1123LabelFmt,
        ['my-name', '123-abc'],
      ),
    );
  }
  return errs;
}

/** RFC 1123 subdomain: labels joined by '.', at most 253 characters (most object names). */
export function checkDns1123Subdomain(value: string): string[] {
  const errs: string[] = [];
  if (value.length > DNS1123_SUBDOMAIN_MAX) errs.push(maxLenMsg(DNS1123_SUBDOMAIN_MAX));
  if (!dns1123SubdomainRe.test(value)) {
    errs.push(
      regexMsg(
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
        dns1123SubdomainFmt,
        ['example.com'],
      ),
    );
  }
  return errs;
}

/** RFC 1035 label: starts with a letter (Service names, port names). */
export function checkDns1035Label(value: string): string[] {
  const errs: string[] = [];
  if (value.length > DNS1035_LABEL_MAX) errs.push(maxLenMsg(DNS1035_LABEL_MAX));
  if (!dns1035LabelRe.test(value)) {
    errs.push(
      regexMsg(
        "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character",
        dns1035LabelFmt,
        ['my-name', 'abc-123'],
      ),
    );
  }
  return errs;
}

/** Path segment names (RBAC objects): anything but '.', '..', or containing '/' or '%'. */
export function checkPathSegmentName(value: string, isPrefix = false): string[] {
  const errs: string[] = [];
  if (!isPrefix && (value === '.' || value === '..')) errs.push(`may not be '${value}'`);
  if (value.includes('/')) errs.push("may not contain '/'");
  if (value.includes('%')) errs.push("may not contain '%'");
  return errs;
}

/** Qualified names (`prefix/name` or `name`): label keys, annotation keys, finalizers. */
export function checkQualifiedName(value: string): string[] {
  const errs: string[] = [];
  const parts = value.split('/');
  let name: string;
  if (parts.length === 1) {
    name = parts[0] as string;
  } else if (parts.length === 2) {
    const prefix = parts[0] as string;
    name = parts[1] as string;
    if (prefix.length === 0) errs.push('prefix part must be non-empty');
    else for (const msg of checkDns1123Subdomain(prefix)) errs.push(`prefix part ${msg}`);
  } else {
    return [
      regexMsg(
        "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
        qualifiedNameFmt,
        ['MyName', 'my.name', '123-abc'],
      ) + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
    ];
  }
  if (name.length === 0) errs.push('name part must be non-empty');
  else if (name.length > QUALIFIED_NAME_MAX) errs.push(`name part ${maxLenMsg(QUALIFIED_NAME_MAX)}`);
  if (name.length > 0 && !qualifiedNameRe.test(name)) {
    errs.push(
      regexMsg(
        "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
        qualifiedNameFmt,
        ['MyName', 'my.name', '123-abc'],
      ),
    );
  }
  return errs;
}

/** Label values: empty, or alphanumerics with '-', '_', '.' inside, at most 63 characters. */
export function checkLabelValue(value: string): string[] {
  const errs: string[] = [];
  if (value.length > LABEL_VALUE_MAX) errs.push(maxLenMsg(LABEL_VALUE_MAX));
  if (!labelValueRe.test(value)) {
    errs.push(
      regexMsg(
        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
        labelValueFmt,
        ['MyValue', 'my_value', '12345'],
      ),
    );
  }
  return errs;
}

/** C identifiers (`[A-Za-z_][A-Za-z0-9_]*`). */
export function checkCIdentifier(value: string): string[] {
  if (cIdentifierRe.test(value)) return [];
  return [
    regexMsg(
      "a valid C identifier must start with alphabetic character or '_', followed by a string of alphanumeric characters or '_'",
      '[A-Za-z_][A-Za-z0-9_]*',
      ['my_name', 'MY_NAME', 'MyName'],
    ),
  ];
}

/** Environment variable names: printable ASCII except '=' (upstream since 1.30, relaxed). */
export function checkEnvVarName(value: string): string[] {
  const errs: string[] = [];
  if (value.length === 0) return errs;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 32 || c > 126 || c === 61) {
      errs.push(
        "a valid environment variable name must consist only of printable ASCII characters other than '='",
      );
      break;
    }
  }
  return errs;
}

/** Config map / secret keys: `[-._a-zA-Z0-9]+`, at most 253 characters, not '.' or '..'. */
export function checkConfigMapKey(value: string): string[] {
  const errs: string[] = [];
  if (value.length > DNS1123_SUBDOMAIN_MAX) errs.push(maxLenMsg(DNS1123_SUBDOMAIN_MAX));
  if (!/^[-._a-zA-Z0-9]+$/.test(value)) {
    errs.push(
      regexMsg(
        "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
        '[-._a-zA-Z0-9]+',
        ['key.name', 'KEY_NAME', 'key-name'],
      ),
    );
  }
  if (value === '.') errs.push("must not be '.'");
  else if (value === '..') errs.push("must not be '..'");
  else if (value.startsWith('..')) errs.push("must not start with '..'");
  return errs;
}

/** IANA service names (named ports): at most 15 characters, lower case, at least one letter. */
export function checkPortName(value: string): string[] {
  const errs: string[] = [];
  if (value.length > 15) errs.push(maxLenMsg(15));
  if (!ianaSvcNameCharsRe.test(value))
    errs.push('must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)');
  if (value.includes('--')) errs.push('must not contain consecutive hyphens');
  if (!ianaSvcNameLettersRe.test(value)) errs.push('must contain at least one letter (a-z)');
  if (value.startsWith('-') || value.endsWith('-')) errs.push('must not begin or end with a hyphen');
  return errs;
}

/** Port numbers 1..65535. */
export function checkPortNumber(value: number): string[] {
  return Number.isInteger(value) && value >= 1 && value <= 65535
    ? []
    : ['must be between 1 and 65535, inclusive'];
}

/**
 * Checks an object name (or a generateName prefix, where a trailing '-' is allowed, as upstream
 * strips it before checking).
 */
export function checkObjectName(rule: NameRule, value: string, isPrefix = false): string[] {
  let v = value;
  if (isPrefix && rule !== 'pathSegment') v = maskTrailingDash(v);
  switch (rule) {
    case 'dns1123Subdomain':
      return checkDns1123Subdomain(v);
    case 'dns1123Label':
      return checkDns1123Label(v);
    case 'dns1035Label':
      return checkDns1035Label(v);
    case 'pathSegment':
      return checkPathSegmentName(v, isPrefix);
  }
}

/** Upstream `maskTrailingDash`: `web-` becomes `wea` so prefixes ending in '-' pass. */
function maskTrailingDash(name: string): string {
  if (name.length > 1 && name.endsWith('-')) return `${name.slice(0, -2)}a`;
  return name;
}
