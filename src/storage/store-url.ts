/**
 * Parsing of datastore URLs (`memory://`, `sqlite:///abs/path/state.db?synchronous=normal`,
 * `etcd://host:2379,host:2379`) and of the options every backend shares. Unknown options are
 * errors, so a typo never silently falls back to a default.
 */
import { badRequest } from '../lib/index.js';
import type { WatchQueueLimits } from './watch-queue.js';

export interface ParsedStoreUrl {
  /** `memory`, `sqlite` or `etcd`. */
  readonly scheme: string;
  /** Everything between `scheme://` and `?`, undecoded. */
  readonly location: string;
  readonly params: URLSearchParams;
  /** The URL with any user:password removed, for messages and logs. */
  readonly display: string;
}

/** Options shared by all backends, with their defaults. */
export interface CommonStoreOptions {
  readonly watchLimits: WatchQueueLimits;
  /** Largest value accepted by create/update. */
  readonly maxValueBytes: number;
  readonly compaction: CompactionWindow;
}

export interface CompactionWindow {
  /** How often the store compacts itself; 0 turns automatic compaction off. */
  readonly intervalMs: number;
  /** Always keep at least this many of the newest revisions. */
  readonly keepRevisions: number;
  /** Always keep at least this much history (by wall-clock time of the revisions). */
  readonly keepMs: number;
}

export const defaultCommonOptions: CommonStoreOptions = {
  watchLimits: { maxEvents: 10_000, maxBytes: 64 * 1024 * 1024 },
  maxValueBytes: 8 * 1024 * 1024,
  compaction: { intervalMs: 60_000, keepRevisions: 1000, keepMs: 10 * 60_000 },
};

const commonOptionNames = [
  'watchQueueEvents',
  'watchQueueBytes',
  'maxValueBytes',
  'compactIntervalMs',
  'compactKeepRevisions',
  'compactKeepMs',
] as const;

/** Splits a datastore URL into scheme, location and query options. */
export function parseStoreUrl(url: string): ParsedStoreUrl {
  if (typeof url !== 'string' || url === '') {
    throw badRequest(
      'Invalid datastore URL: it is empty; use sqlite:///path/state.db, etcd://host:port or memory://',
    );
  }
  const display = url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@?]*@/i, '$1***@');
  const m = /^([a-z][a-z0-9+.-]*):\/\/([^?#]*)(\?[^#]*)?$/i.exec(url);
  if (!m) {
    throw badRequest(
      `Invalid datastore URL "${display}": expected scheme://location[?options], ` +
        'such as sqlite:///var/lib/h8s/state.db or etcd://127.0.0.1:2379',
    );
  }
  const scheme = (m[1] as string).toLowerCase();
  return { scheme, location: m[2] as string, params: new URLSearchParams(m[3] ?? ''), display };
}

/**
 * Reads an integer option and removes it from `params`.
 * @throws BadRequest when it is not an integer within [min, max].
 */
export function takeIntegerOption(
  parsed: ParsedStoreUrl,
  name: string,
  fallback: number,
  range: { min: number; max?: number },
): number {
  const raw = parsed.params.get(name);
  if (raw === null) return fallback;
  const all = parsed.params.getAll(name);
  parsed.params.delete(name);
  const max = range.max ?? Number.MAX_SAFE_INTEGER;
  const n = Number(raw);
  if (all.length > 1 || raw.trim() === '' || !Number.isSafeInteger(n) || n < range.min || n > max) {
    throw badRequest(
      `Invalid datastore URL "${parsed.display}": option "${name}" must be one integer from ${range.min} to ${max}, got "${all.join(',')}"`,
    );
  }
  return n;
}

/**
 * Reads an option that takes one of `choices` and removes it from `params`.
 * @throws BadRequest for any other value.
 */
export function takeChoiceOption<T extends string>(
  parsed: ParsedStoreUrl,
  name: string,
  choices: readonly T[],
  fallback: T,
): T {
  const raw = parsed.params.get(name);
  if (raw === null) return fallback;
  parsed.params.delete(name);
  const v = raw.toLowerCase();
  const hit = choices.find((c) => c === v);
  if (hit === undefined) {
    throw badRequest(
      `Invalid datastore URL "${parsed.display}": option "${name}" must be one of ${choices.join(', ')}, got "${raw}"`,
    );
  }
  return hit;
}

/** Reads the options all backends share and removes them from `params`. */
export function takeCommonOptions(parsed: ParsedStoreUrl): CommonStoreOptions {
  const d = defaultCommonOptions;
  return {
    watchLimits: {
      maxEvents: takeIntegerOption(parsed, 'watchQueueEvents', d.watchLimits.maxEvents, { min: 1 }),
      maxBytes: takeIntegerOption(parsed, 'watchQueueBytes', d.watchLimits.maxBytes, { min: 1024 }),
    },
    maxValueBytes: takeIntegerOption(parsed, 'maxValueBytes', d.maxValueBytes, {
      min: 1,
      max: 512 * 1024 * 1024,
    }),
    compaction: {
      intervalMs: takeIntegerOption(parsed, 'compactIntervalMs', d.compaction.intervalMs, { min: 0 }),
      keepRevisions: takeIntegerOption(parsed, 'compactKeepRevisions', d.compaction.keepRevisions, {
        min: 0,
      }),
      keepMs: takeIntegerOption(parsed, 'compactKeepMs', d.compaction.keepMs, { min: 0 }),
    },
  };
}

/**
 * Fails on any option left in `params` after the backend took the ones it knows.
 * @throws BadRequest naming the unknown options and the known ones.
 */
export function rejectUnknownOptions(parsed: ParsedStoreUrl, backendOptions: readonly string[]): void {
  const left = [...new Set(parsed.params.keys())];
  if (left.length === 0) return;
  const known = [...backendOptions, ...commonOptionNames].join(', ');
  throw badRequest(
    `Invalid datastore URL "${parsed.display}": unknown option${left.length > 1 ? 's' : ''} ` +
      `${left.map((k) => `"${k}"`).join(', ')}; known options: ${known}`,
  );
}
