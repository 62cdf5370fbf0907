/**
 * The injected structured logger (STYLE.md, "Logging").
 *
 * Fixed messages, data in fields: `log.info('Started VM', { vmId, durationMs })`.
 * A Logger is always passed in; there is no global. Field values that look like
 * secrets (keys named token, password, secret, authorization) are redacted.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger whose lines all carry `fields` as well. */
  child(fields: LogFields): Logger;
  isEnabled(level: LogLevel): boolean;
}

export interface LogRecord {
  readonly time: string;
  readonly level: LogLevel;
  readonly msg: string;
  readonly [field: string]: unknown;
}

export type LogSink = (record: LogRecord) => void;

const levelRank: Readonly<Record<LogLevel, number>> = { debug: 10, info: 20, warn: 30, error: 40 };

const secretKey = /(^|_|-)(token|password|passwd|secret|authorization|credential|privatekey|private_key)s?$/i;

/** Replaces secret-looking fields and turns Errors into plain data. */
export function sanitizeFields(fields: LogFields): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (secretKey.test(k)) {
      out[k] = '[redacted]';
    } else if (v instanceof Error) {
      out[k] = errorToFields(v);
    } else {
      out[k] = v;
    }
  }
  return out;
}

function errorToFields(err: Error): Record<string, unknown> {
  const out: Record<string, unknown> = { message: err.message };
  const code = (err as { code?: unknown }).code;
  if (code !== undefined) out['code'] = code;
  if (err.cause instanceof Error) out['cause'] = errorToFields(err.cause);
  return out;
}

export interface CreateLoggerOptions {
  readonly level?: LogLevel;
  readonly sink: LogSink;
  readonly fields?: LogFields;
  readonly now?: () => Date;
}

/** Builds a logger that hands records at or above `level` to `sink`. */
export function createLogger(options: CreateLoggerOptions): Logger {
  const minRank = levelRank[options.level ?? 'info'];
  const now = options.now ?? (() => new Date());
  const base = sanitizeFields(options.fields ?? {});
  const emit = (level: LogLevel, msg: string, fields?: LogFields): void => {
    if (levelRank[level] < minRank) return;
    const record: LogRecord = {
      time: now().toISOString(),
      level,
      msg,
      ...base,
      ...(fields ? sanitizeFields(fields) : {}),
    };
    options.sink(record);
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) =>
      createLogger({
        ...options,
        fields: { ...(options.fields ?? {}), ...fields },
        level: options.level ?? 'info',
      }),
    isEnabled: (level) => levelRank[level] >= minRank,
  };
}

/** Writes one JSON line per record to a writable stream (stderr by default in cmd/). */
export function jsonLineSink(write: (line: string) => void): LogSink {
  return (record) => {
    let line: string;
    try {
      line = JSON.stringify(record);
    } catch {
      line = JSON.stringify({
        time: record.time,
        level: record.level,
        msg: record.msg,
        note: 'unserializable fields',
      });
    }
    write(line + '\n');
  };
}

/** Human-readable lines: `time level msg key=value ...`. */
export function textLineSink(write: (line: string) => void): LogSink {
  return (record) => {
    const { time, level, msg, ...rest } = record;
    const kv = Object.entries(rest)
      .map(([k, v]) => `${k}=${typeof v === 'string' ? JSON.stringify(v) : safeJson(v)}`)
      .join(' ');
    write(`${time} ${level.toUpperCase().padEnd(5)} ${msg}${kv ? ' ' + kv : ''}\n`);
  };
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/** A logger that drops everything (for tests that do not look at logs). */
export const nullLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => nullLogger,
  isEnabled: () => false,
};

/** A logger that keeps records in memory, for tests that assert on logs. */
export function createMemoryLogger(level: LogLevel = 'debug'): { log: Logger; records: LogRecord[] } {
  const records: LogRecord[] = [];
  return { log: createLogger({ level, sink: (r) => records.push(r) }), records };
}

/**
 * Wraps a logger so that each message key may log at most `burst` lines per `windowMs`;
 * the first line after a suppressed window carries `suppressed: N`. Use it for anything a
 * guest or tenant can trigger (STYLE.md: "The guest is hostile").
 */
export function createRateLimitedLogger(
  log: Logger,
  options: { burst: number; windowMs: number; now?: () => number },
): Logger {
  const now = options.now ?? Date.now;
  const windows = new Map<string, { start: number; count: number; suppressed: number }>();
  const gate = (level: LogLevel, msg: string, fields?: LogFields): void => {
    const key = `${level}:${msg}`;
    const t = now();
    let w = windows.get(key);
    if (!w || t - w.start >= options.windowMs) {
      const suppressed = w?.suppressed ?? 0;
      w = { start: t, count: 0, suppressed: 0 };
      windows.set(key, w);
      if (windows.size > 1024) windows.delete(windows.keys().next().value as string);
      if (suppressed > 0) fields = { ...(fields ?? {}), suppressed };
    }
    if (w.count >= options.burst) {
      w.suppressed++;
      return;
    }
    w.count++;
    log[level](msg, fields);
  };
  return {
    debug: (m, f) => gate('debug', m, f),
    info: (m, f) => gate('info', m, f),
    warn: (m, f) => gate('warn', m, f),
    error: (m, f) => gate('error', m, f),
    child: (fields) => createRateLimitedLogger(log.child(fields), options),
    isEnabled: (level) => log.isEnabled(level),
  };
}
