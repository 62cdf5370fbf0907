/**
 * Query parameters → typed registry options (upstream `ListOptions`, `CreateOptions`,
 * `PatchOptions`, `DeleteOptions` decoding). Bad values are 400 BadRequest naming the
 * parameter and what it accepts.
 */
import { badRequest, isRecord } from '../../lib/index.js';
import type {
  DeleteOptions,
  FieldValidation,
  ListOptions,
  PropagationPolicy,
  ResourceVersionMatch,
} from '../registry/operation-options.js';

function bool(query: URLSearchParams, name: string): boolean | undefined {
  const raw = query.get(name);
  if (raw === null) return undefined;
  if (raw === 'true' || raw === '1' || raw === '') return true;
  if (raw === 'false' || raw === '0') return false;
  throw badRequest(`Invalid ${name} "${raw}": it must be true or false`);
}

function nonNegativeInt(query: URLSearchParams, name: string): number | undefined {
  const raw = query.get(name);
  if (raw === null || raw === '') return undefined;
  if (!/^\d{1,15}$/.test(raw))
    throw badRequest(`Invalid ${name} "${raw}": it must be a non-negative integer`);
  return Number(raw);
}

function int(query: URLSearchParams, name: string): number | undefined {
  const raw = query.get(name);
  if (raw === null || raw === '') return undefined;
  if (!/^-?\d{1,15}$/.test(raw)) throw badRequest(`Invalid ${name} "${raw}": it must be an integer`);
  return Number(raw);
}

function resourceVersionMatch(query: URLSearchParams): ResourceVersionMatch | undefined {
  const raw = query.get('resourceVersionMatch');
  if (raw === null || raw === '') return undefined;
  if (raw === 'NotOlderThan' || raw === 'Exact') return raw;
  throw badRequest(
    `resourceVersionMatch: Unsupported value: "${raw}": supported values: "Exact", "NotOlderThan"`,
  );
}

export function listOptionsFrom(query: URLSearchParams): ListOptions {
  const rv = query.get('resourceVersion') ?? undefined;
  const match = resourceVersionMatch(query);
  const cont = query.get('continue') ?? undefined;
  if (match !== undefined) {
    if (rv === undefined || rv === '') {
      throw badRequest(
        'resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided',
      );
    }
    if (cont)
      throw badRequest(
        'resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden when continue is provided',
      );
    if (match === 'Exact' && rv === '0') {
      throw badRequest(
        'resourceVersionMatch: Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0"',
      );
    }
  }
  const limit = nonNegativeInt(query, 'limit');
  const label = query.get('labelSelector');
  const field = query.get('fieldSelector');
  return {
    ...(label !== null ? { labelSelector: label } : {}),
    ...(field !== null ? { fieldSelector: field } : {}),
    ...(limit !== undefined ? { limit } : {}),
    ...(cont ? { continueToken: cont } : {}),
    ...(rv !== undefined ? { resourceVersion: rv } : {}),
    ...(match !== undefined ? { resourceVersionMatch: match } : {}),
  };
}

export interface WatchQuery {
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  readonly resourceVersion?: string;
  readonly resourceVersionMatch?: ResourceVersionMatch;
  readonly allowWatchBookmarks: boolean;
  readonly sendInitialEvents?: boolean;
  readonly timeoutSeconds?: number;
}

export function watchQueryFrom(query: URLSearchParams): WatchQuery {
  const label = query.get('labelSelector');
  const field = query.get('fieldSelector');
  const rv = query.get('resourceVersion');
  const match = resourceVersionMatch(query);
  const initial = bool(query, 'sendInitialEvents');
  const timeoutSeconds = nonNegativeInt(query, 'timeoutSeconds');
  return {
    ...(label !== null ? { labelSelector: label } : {}),
    ...(field !== null ? { fieldSelector: field } : {}),
    ...(rv !== null ? { resourceVersion: rv } : {}),
    ...(match !== undefined ? { resourceVersionMatch: match } : {}),
    allowWatchBookmarks: bool(query, 'allowWatchBookmarks') ?? false,
    ...(initial !== undefined ? { sendInitialEvents: initial } : {}),
    ...(timeoutSeconds !== undefined ? { timeoutSeconds } : {}),
  };
}

/** `dryRun=All` (the only value upstream knows). */
export function dryRunFrom(values: readonly string[]): boolean {
  for (const v of values) {
    if (v !== 'All') throw badRequest(`dryRun: Unsupported value: "${v}": supported values: "All"`);
  }
  return values.length > 0;
}

export function fieldValidationFrom(query: URLSearchParams): FieldValidation {
  const raw = query.get('fieldValidation');
  if (raw === null || raw === '') return 'Warn';
  if (raw === 'Strict' || raw === 'Warn' || raw === 'Ignore') return raw;
  throw badRequest(
    `fieldValidation: Unsupported value: "${raw}": supported values: "Ignore", "Strict", "Warn"`,
  );
}

/** The field manager: `fieldManager`, else the User-Agent's product name, as upstream. */
export function fieldManagerFrom(query: URLSearchParams, userAgent: string | undefined): string {
  const raw = query.get('fieldManager');
  if (raw !== null && raw !== '') {
    if (raw.length > 128) throw badRequest('fieldManager: Too long: may not be more than 128 bytes');
    if (!/^[\x20-\x7e]*$/.test(raw)) {
      throw badRequest(`fieldManager: Invalid value: "${raw}": must be made of printable ASCII characters`);
    }
    return raw;
  }
  const agent = (userAgent ?? '').split('/')[0]?.trim() ?? '';
  const cleaned = agent.replace(/[^\x20-\x7e]/g, '').slice(0, 128);
  return cleaned === '' ? 'unknown' : cleaned;
}

function policy(raw: unknown): PropagationPolicy | undefined {
  if (raw === undefined || raw === null || raw === '') return undefined;
  if (raw === 'Background' || raw === 'Foreground' || raw === 'Orphan') return raw;
  throw badRequest(
    `propagationPolicy: Unsupported value: ${JSON.stringify(raw)}: supported values: "Background", "Foreground", "Orphan"`,
  );
}

/**
 * DeleteOptions from the body (if any) and the query (the body wins, as upstream decodes the
 * body over the query values). Also returns the dryRun flag.
 */
export function deleteOptionsFrom(
  query: URLSearchParams,
  body: unknown,
): { options: DeleteOptions; dryRun: boolean } {
  let grace = int(query, 'gracePeriodSeconds');
  let prop = policy(query.get('propagationPolicy') ?? undefined);
  let orphan = bool(query, 'orphanDependents');
  let dryRunValues = query.getAll('dryRun');
  let preconditions: DeleteOptions['preconditions'];
  if (body !== undefined) {
    if (!isRecord(body)) throw badRequest('The DeleteOptions in the request body must be a JSON object');
    if (body['kind'] !== undefined && body['kind'] !== 'DeleteOptions') {
      throw badRequest(`The request body must be DeleteOptions, not ${JSON.stringify(body['kind'])}`);
    }
    const g = body['gracePeriodSeconds'];
    if (g !== undefined && g !== null) {
      if (typeof g !== 'number' || !Number.isInteger(g))
        throw badRequest('gracePeriodSeconds must be an integer');
      grace = g;
    }
    if (body['propagationPolicy'] !== undefined && body['propagationPolicy'] !== null) {
      prop = policy(body['propagationPolicy']);
    }
    const o = body['orphanDependents'];
    if (o !== undefined && o !== null) {
      if (typeof o !== 'boolean') throw badRequest('orphanDependents must be true or false');
      orphan = o;
    }
    const d = body['dryRun'];
    if (d !== undefined && d !== null) {
      if (!Array.isArray(d) || !d.every((x) => typeof x === 'string'))
        throw badRequest('dryRun must be a list of strings');
      dryRunValues = d as string[];
    }
    const p = body['preconditions'];
    if (p !== undefined && p !== null) {
      if (!isRecord(p)) throw badRequest('preconditions must be an object');
      const uid = p['uid'];
      const rv = p['resourceVersion'];
      if (
        (uid !== undefined && uid !== null && typeof uid !== 'string') ||
        (rv !== undefined && rv !== null && typeof rv !== 'string')
      ) {
        throw badRequest('preconditions.uid and preconditions.resourceVersion must be strings');
      }
      preconditions = {
        ...(typeof uid === 'string' ? { uid } : {}),
        ...(typeof rv === 'string' ? { resourceVersion: rv } : {}),
      };
    }
  }
  if (grace !== undefined && grace < 0) grace = 0;
  return {
    options: {
      ...(grace !== undefined ? { gracePeriodSeconds: grace } : {}),
      ...(prop !== undefined ? { propagationPolicy: prop } : {}),
      ...(orphan !== undefined ? { orphanDependents: orphan } : {}),
      ...(preconditions !== undefined ? { preconditions } : {}),
    },
    dryRun: dryRunFrom(dryRunValues),
  };
}
