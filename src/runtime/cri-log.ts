/**
 * CRI container log files (the format kubelet and crictl read): one line per record,
 * `<RFC3339Nano time> <stdout|stderr> <F|P> <content>\n`, where `P` marks a partial line (a
 * long line cut into pieces, or output that ended without a newline) and `F` a full one.
 *
 * Writers (the runc shim, in C, and `CriLogWriter` here for handlers written in TypeScript,
 * e.g. the hyper handler) cut lines at 16 KiB and rotate by size: `path` is the live file,
 * `path.1` the previous one, up to `path.<maxFiles-1>`. Readers (`readCriLog`) read the
 * rotated files oldest first, then follow the live file across rotations.
 */
import { open, stat, rename, unlink, type FileHandle } from 'node:fs/promises';
import type { LogLine, LogOptions } from './runtime-service.js';
import { abortReason, systemClock, unlessMissing, type Clock } from '../lib/index.js';

/** Lines longer than this are written as several `P` records. */
export const criLogLineMaxBytes = 16 * 1024;
/** A reader skips records longer than this (a corrupt or hostile file). */
const maxRecordBytes = 64 * 1024;

/** Formats a time as RFC 3339 with nanoseconds in UTC, as the writers do. */
export function formatCriTime(ms: number, extraNs = 0): string {
  const iso = new Date(ms).toISOString(); // 2024-01-02T03:04:05.123Z
  const nanos = (Math.floor(ms % 1000) * 1_000_000 + extraNs).toString().padStart(9, '0');
  return `${iso.slice(0, 19)}.${nanos}Z`;
}

/** Nanoseconds since the epoch of an RFC 3339 time (any fraction length, Z or offset); NaN if bad. */
export function parseCriTime(text: string): number {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(text);
  if (!m) return Number.NaN;
  const secondsMs = Date.parse(`${m[1]}${m[3] === 'Z' ? 'Z' : m[3]}`);
  if (Number.isNaN(secondsMs)) return Number.NaN;
  const frac = Number((m[2] ?? '').padEnd(9, '0'));
  return secondsMs * 1_000_000 + frac;
}

/** Parses one record (without its newline); undefined when it is not a CRI log record. */
export function parseCriLogLine(line: Uint8Array): LogLine | undefined {
  const buf = Buffer.from(line.buffer, line.byteOffset, line.byteLength);
  const s1 = buf.indexOf(0x20);
  if (s1 <= 0) return undefined;
  const s2 = buf.indexOf(0x20, s1 + 1);
  if (s2 < 0) return undefined;
  let s3 = buf.indexOf(0x20, s2 + 1);
  if (s3 < 0) s3 = buf.length; // "time stdout F" with empty content and no trailing space
  const time = buf.toString('latin1', 0, s1);
  const stream = buf.toString('latin1', s1 + 1, s2);
  const tags = buf.toString('latin1', s2 + 1, s3);
  if (stream !== 'stdout' && stream !== 'stderr') return undefined;
  const tag = tags.split(':')[0];
  if (tag !== 'F' && tag !== 'P') return undefined;
  if (Number.isNaN(parseCriTime(time))) return undefined;
  return {
    time,
    stream,
    full: tag === 'F',
    content: Uint8Array.prototype.slice.call(buf, Math.min(buf.length, s3 + 1)),
  };
}

/** Formats a record, with its trailing newline. */
export function formatCriLogLine(line: LogLine): Buffer {
  return Buffer.concat([
    Buffer.from(`${line.time} ${line.stream} ${line.full ? 'F' : 'P'} `, 'latin1'),
    Buffer.from(line.content),
    Buffer.from('\n'),
  ]);
}

export interface CriLogWriterOptions {
  readonly path: string;
  /** Rotate when the live file would grow past this; 0 = never. Default 10 MiB. */
  readonly maxBytes?: number;
  /** Files kept in all, the live one included. Default 5. */
  readonly maxFiles?: number;
  readonly clock?: Clock;
}

/**
 * Appends a process's output to a CRI log file, cutting lines and rotating by size. Writes are
 * serialised; a failed write (disk full) drops the record rather than blocking the producer.
 */
export class CriLogWriter {
  readonly #path: string;
  readonly #maxBytes: number;
  readonly #maxFiles: number;
  readonly #clock: Clock;
  #fh: FileHandle | undefined;
  #size = 0;
  #pending: Record<'stdout' | 'stderr', Buffer[]> = { stdout: [], stderr: [] };
  #pendingBytes: Record<'stdout' | 'stderr', number> = { stdout: 0, stderr: 0 };
  #chain: Promise<void> = Promise.resolve();

  constructor(options: CriLogWriterOptions) {
    this.#path = options.path;
    this.#maxBytes = options.maxBytes ?? 10 * 1024 * 1024;
    this.#maxFiles = options.maxFiles ?? 5;
    this.#clock = options.clock ?? systemClock;
  }

  /** Appends output of one stream. */
  write(stream: 'stdout' | 'stderr', data: Uint8Array): Promise<void> {
    const records: Buffer[] = [];
    let rest = Buffer.from(data);
    while (rest.length > 0) {
      const nl = rest.indexOf(0x0a);
      const take = nl < 0 ? rest.length : nl;
      const room = criLogLineMaxBytes - this.#pendingBytes[stream];
      if (take >= room) {
        this.#pending[stream].push(rest.subarray(0, room));
        records.push(this.#record(stream, false));
        rest = rest.subarray(room);
        continue;
      }
      this.#pending[stream].push(rest.subarray(0, take));
      this.#pendingBytes[stream] += take;
      if (nl < 0) break;
      records.push(this.#record(stream, true));
      rest = rest.subarray(take + 1);
    }
    return this.#append(records);
  }

  /** Writes any unterminated output as partial records (at process exit). */
  flush(): Promise<void> {
    const records: Buffer[] = [];
    for (const s of ['stdout', 'stderr'] as const) {
      if (this.#pendingBytes[s] > 0) records.push(this.#record(s, false));
    }
    return this.#append(records);
  }

  async close(): Promise<void> {
    await this.flush();
    await this.#chain;
    await this.#fh?.close();
    this.#fh = undefined;
  }

  #record(stream: 'stdout' | 'stderr', full: boolean): Buffer {
    const content = Buffer.concat(this.#pending[stream]);
    this.#pending[stream] = [];
    this.#pendingBytes[stream] = 0;
    const now = this.#clock.now();
    return formatCriLogLine({ time: formatCriTime(now), stream, full, content });
  }

  #append(records: Buffer[]): Promise<void> {
    if (records.length === 0) return this.#chain;
    this.#chain = this.#chain.then(async () => {
      for (const r of records) {
        try {
          if (this.#maxBytes > 0 && this.#size > 0 && this.#size + r.length > this.#maxBytes)
            await this.#rotate();
          const fh = await this.#handle();
          await fh.write(r);
          this.#size += r.length;
        } catch {
          // disk full or the directory vanished: drop the record, never block the process
        }
      }
    });
    return this.#chain;
  }

  async #handle(): Promise<FileHandle> {
    if (!this.#fh) {
      this.#fh = await open(this.#path, 'a', 0o640);
      this.#size = (await this.#fh.stat()).size;
    }
    return this.#fh;
  }

  async #rotate(): Promise<void> {
    await this.#fh?.close();
    this.#fh = undefined;
    if (this.#maxFiles <= 1) {
      await unlessMissing(unlink(this.#path));
    } else {
      await unlessMissing(unlink(`${this.#path}.${this.#maxFiles - 1}`));
      for (let i = this.#maxFiles - 2; i >= 1; i--) {
        await unlessMissing(rename(`${this.#path}.${i}`, `${this.#path}.${i + 1}`));
      }
      await unlessMissing(rename(this.#path, `${this.#path}.1`));
    }
    this.#size = 0;
  }
}

/** The files of one log, oldest first (rotated ones, then the live one if it exists). */
export async function listCriLogFiles(path: string, maxRotated = 64): Promise<string[]> {
  const files: string[] = [];
  for (let i = maxRotated; i >= 1; i--) {
    const p = `${path}.${i}`;
    if (await exists(p)) files.push(p);
  }
  if (await exists(path)) files.push(path);
  return files;
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

export interface ReadCriLogOptions extends LogOptions {
  /** With `follow`: whether more output can still come (the container is running). */
  readonly isLive?: () => boolean | Promise<boolean>;
  readonly clock?: Clock;
  /** Idle poll interval while following; default 100 ms. */
  readonly pollMs?: number;
}

interface Position {
  readonly file: string;
  readonly offset: number;
}

/** Finds where the last `n` complete records start, scanning the files backwards. */
async function tailPosition(files: readonly string[], n: number): Promise<Position> {
  let remaining = n;
  const chunk = Buffer.allocUnsafe(64 * 1024);
  for (let i = files.length - 1; i >= 0; i--) {
    const file = files[i] as string;
    const fh = await unlessMissing(open(file, 'r'));
    if (!fh) continue;
    try {
      // every newline ends a record; the record after the (remaining+1)-th newline from the
      // end is the first one wanted (bytes after the last newline are still being written)
      let pos = (await fh.stat()).size;
      let seen = 0;
      while (pos > 0) {
        const len = Math.min(chunk.length, pos);
        pos -= len;
        await fh.read(chunk, 0, len, pos);
        for (let j = len - 1; j >= 0; j--) {
          if (chunk[j] === 0x0a && ++seen === remaining + 1) return { file, offset: pos + j + 1 };
        }
      }
      remaining -= seen;
      if (remaining <= 0) return { file, offset: 0 };
    } finally {
      await fh.close();
    }
  }
  return { file: files[0] ?? '', offset: 0 };
}

/**
 * Reads a CRI log (rotated files included) as records. With `follow`, keeps reading new
 * records until `isLive()` turns false and the file is drained, or the signal aborts.
 */
export async function* readCriLog(path: string, options: ReadCriLogOptions = {}): AsyncGenerator<LogLine> {
  const clock = options.clock ?? systemClock;
  const signal = options.signal;
  let files = await listCriLogFiles(path);
  let start: Position = { file: files[0] ?? path, offset: 0 };
  if (options.tailLines !== undefined) {
    if (options.tailLines <= 0 && !options.follow) return;
    start =
      options.tailLines <= 0
        ? { file: path, offset: (await unlessMissing(stat(path)))?.size ?? 0 }
        : await tailPosition(files, options.tailLines);
  }
  const startIndex = files.indexOf(start.file);
  files = startIndex >= 0 ? files.slice(startIndex) : [];
  let bytesLeft = options.limitBytes ?? Number.POSITIVE_INFINITY;

  const emit = function* (line: LogLine): Generator<LogLine, boolean> {
    if (options.sinceNs !== undefined && parseCriTime(line.time) < options.sinceNs) return true;
    if (bytesLeft <= 0) return false;
    if (line.content.length > bytesLeft) {
      yield { ...line, content: line.content.slice(0, bytesLeft), full: false };
      bytesLeft = 0;
      return false;
    }
    bytesLeft -= line.content.length;
    yield line;
    return bytesLeft > 0;
  };

  // rotated files: read whole (they no longer change)
  for (const file of files.slice(0, -1)) {
    const offset = file === start.file ? start.offset : 0;
    for await (const line of readRecords(file, offset, signal)) {
      if (!(yield* emit(line))) return;
    }
  }
  if (files.length === 0 && !options.follow) return;

  // the live file: read, and with follow keep going across rotations
  const live = path;
  let fh: FileHandle | undefined;
  let ino = -1;
  let offset = files.length > 0 && files[files.length - 1] === live && start.file === live ? start.offset : 0;
  let carry: Buffer = Buffer.alloc(0);
  let idleMs = options.pollMs ?? 100;
  const chunk = Buffer.allocUnsafe(64 * 1024);
  try {
    for (;;) {
      if (signal?.aborted) throw abortReason(signal);
      if (!fh) {
        fh = await unlessMissing(open(live, 'r'));
        if (fh) ino = (await fh.stat()).ino;
      }
      let progressed = false;
      if (fh) {
        const { bytesRead } = await fh.read(chunk, 0, chunk.length, offset);
        if (bytesRead > 0) {
          progressed = true;
          offset += bytesRead;
          let data = carry.length
            ? Buffer.concat([carry, chunk.subarray(0, bytesRead)])
            : chunk.subarray(0, bytesRead);
          let nl: number;
          while ((nl = data.indexOf(0x0a)) >= 0) {
            const rec = data.subarray(0, nl);
            data = data.subarray(nl + 1);
            if (rec.length > maxRecordBytes) continue;
            const line = parseCriLogLine(rec);
            if (line && !(yield* emit(line))) return;
          }
          carry = data.length > maxRecordBytes ? Buffer.alloc(0) : Buffer.from(data);
        }
      }
      if (progressed) {
        idleMs = options.pollMs ?? 100;
        continue;
      }
      // at the end of what is written: rotated away?
      const st = await unlessMissing(stat(live));
      if (fh && (!st || st.ino !== ino)) {
        // the writer moved on to a new file; what we had open is complete
        await fh.close();
        fh = undefined;
        offset = 0;
        carry = Buffer.alloc(0);
        continue;
      }
      if (fh && st && st.size < offset) {
        offset = 0; // truncated in place
        carry = Buffer.alloc(0);
        continue;
      }
      if (!options.follow) return;
      if (!(await (options.isLive?.() ?? false))) {
        // one last look: output written just before the exit
        if (fh) {
          const { bytesRead } = await fh.read(chunk, 0, 1, offset);
          if (bytesRead > 0) continue;
        }
        return;
      }
      await clock.sleep(idleMs, signal);
      idleMs = Math.min(idleMs * 2, 500);
    }
  } finally {
    await fh?.close();
  }
}

async function* readRecords(file: string, offset: number, signal?: AbortSignal): AsyncGenerator<LogLine> {
  const fh = await unlessMissing(open(file, 'r'));
  if (!fh) return;
  try {
    const chunk = Buffer.allocUnsafe(64 * 1024);
    let pos = offset;
    let carry: Buffer = Buffer.alloc(0);
    for (;;) {
      if (signal?.aborted) throw abortReason(signal);
      const { bytesRead } = await fh.read(chunk, 0, chunk.length, pos);
      if (bytesRead === 0) return;
      pos += bytesRead;
      let data = carry.length
        ? Buffer.concat([carry, chunk.subarray(0, bytesRead)])
        : chunk.subarray(0, bytesRead);
      let nl: number;
      while ((nl = data.indexOf(0x0a)) >= 0) {
        const rec = data.subarray(0, nl);
        data = data.subarray(nl + 1);
        if (rec.length > maxRecordBytes) continue;
        const line = parseCriLogLine(rec);
        if (line) yield line;
      }
      carry = data.length > maxRecordBytes ? Buffer.alloc(0) : Buffer.from(data);
    }
  } finally {
    await fh.close();
  }
}
