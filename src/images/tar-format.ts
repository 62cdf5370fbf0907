/**
 * A streaming tar reader and a tar writer (ustar + PAX + GNU long names), written for image
 * layers: every header field from the archive is untrusted, so numbers, names, PAX records
 * and long-name blocks are bounded, checksums are verified and anything we do not understand
 * is an Invalid error rather than a guess.
 */
import { invalid } from '../lib/index.js';

export type TarEntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

export interface TarHeader {
  /** The entry's path as recorded (PAX `path` and GNU long names applied), not yet cleaned. */
  readonly name: string;
  readonly type: TarEntryType;
  /** Permission bits including setuid/setgid/sticky (`mode & 0o7777`). */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly linkname: string;
  readonly devmajor: number;
  readonly devminor: number;
  /** Extended attributes from `SCHILY.xattr.<name>` PAX records. */
  readonly xattrs: ReadonlyMap<string, Buffer>;
}

export interface TarEntry {
  readonly header: TarHeader;
  /** The entry's data; must be consumed (or left alone: the reader skips what is not read). */
  readonly body: AsyncIterable<Buffer>;
  /**
   * The entry's whole data in one buffer (instead of `body`; for small files): no copy when
   * it lies within one chunk of the source.
   */
  readAll(): Promise<Buffer>;
}

export interface TarReaderLimits {
  /** Largest PAX extended header or GNU long-name block, in bytes. Default 1 MiB. */
  readonly maxMetaBytes?: number;
  /** Longest path or link name, in bytes. Default 4096 (PATH_MAX). */
  readonly maxNameBytes?: number;
  /** Most entries in one archive. Default 2,000,000. */
  readonly maxEntries?: number;
}

const block = 512;

function padded(n: number): number {
  return Math.ceil(n / block) * block;
}

/** What the reader reads from: a stream of chunks (or an array of them). */
export type TarSource = AsyncIterable<Buffer | Uint8Array | string> | Iterable<Buffer | Uint8Array | string>;
const zeroBlock = Buffer.alloc(block);

/** Pulls exact byte counts out of an async stream of chunks without concatenating everything. */
class ChunkReader {
  readonly #it: AsyncIterator<Buffer | Uint8Array | string> | Iterator<Buffer | Uint8Array | string>;
  #cur: Buffer = Buffer.alloc(0);
  #eof = false;
  /** Bytes consumed so far (for error messages). */
  offset = 0;

  constructor(source: TarSource) {
    this.#it = Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : source[Symbol.iterator]();
  }

  async #more(): Promise<boolean> {
    while (this.#cur.length === 0) {
      if (this.#eof) return false;
      const r = await this.#it.next();
      if (r.done) {
        this.#eof = true;
        return false;
      }
      this.#cur =
        typeof r.value === 'string'
          ? Buffer.from(r.value)
          : Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
    }
    return true;
  }

  /** Exactly `n` bytes, or undefined at a clean end; throws on a short read. */
  async readExact(n: number): Promise<Buffer | undefined> {
    if (!(await this.#more())) return undefined;
    if (this.#cur.length >= n) {
      const out = this.#cur.subarray(0, n);
      this.#cur = this.#cur.subarray(n);
      this.offset += n;
      return out;
    }
    const parts: Buffer[] = [];
    let have = 0;
    while (have < n) {
      if (!(await this.#more()))
        throw invalid(`Invalid tar archive: it ends in the middle of a record at byte ${this.offset + have}`);
      const take = this.#cur.subarray(0, n - have);
      parts.push(take);
      have += take.length;
      this.#cur = this.#cur.subarray(take.length);
    }
    this.offset += n;
    return Buffer.concat(parts, n);
  }

  /** Yields chunks totalling `n` bytes. */
  async *take(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (!(await this.#more()))
        throw invalid(`Invalid tar archive: it ends inside an entry's data at byte ${this.offset}`);
      const take = this.#cur.subarray(0, Math.min(left, this.#cur.length));
      this.#cur = this.#cur.subarray(take.length);
      left -= take.length;
      this.offset += take.length;
      yield take;
    }
  }

  async skip(n: number): Promise<void> {
    for await (const _ of this.take(n)) {
      // discard
    }
  }

  /** Consumes and discards the rest of the stream (keeps a decompressor's trailer check running). */
  async drain(): Promise<void> {
    this.#cur = Buffer.alloc(0);
    while (!this.#eof) {
      const r = await this.#it.next();
      if (r.done) this.#eof = true;
    }
  }
}

function cstring(buf: Buffer, start: number, len: number): string {
  const field = buf.subarray(start, start + len);
  const nul = field.indexOf(0);
  return field.subarray(0, nul < 0 ? len : nul).toString('utf8');
}

function parseNumber(buf: Buffer, start: number, len: number, field: string): number {
  const f = buf.subarray(start, start + len);
  if (f.length > 0 && (f[0]! & 0x80) !== 0) {
    // GNU base-256: big-endian two's complement with the top bit as the marker.
    if ((f[0]! & 0x40) !== 0) throw invalid(`Invalid tar header: negative ${field}`);
    let v = f[0]! & 0x3f;
    for (let i = 1; i < f.length; i++) {
      v = v * 256 + f[i]!;
      if (v > Number.MAX_SAFE_INTEGER) throw invalid(`Invalid tar header: ${field} is too large`);
    }
    return v;
  }
  // Octal digits, optionally surrounded by spaces, ended by NUL (or the field's end). One pass
  // over the bytes: this runs six times per entry.
  let i = 0;
  const end = f.indexOf(0) < 0 ? f.length : f.indexOf(0);
  while (i < end && (f[i] === 0x20 || f[i] === 0x09)) i++;
  let j = end;
  while (j > i && (f[j - 1] === 0x20 || f[j - 1] === 0x09)) j--;
  let v = 0;
  for (let k = i; k < j; k++) {
    const c = f[k]!;
    if (c < 0x30 || c > 0x37) {
      const shown = f.toString('latin1', i, Math.min(j, i + 20));
      throw invalid(`Invalid tar header: ${field} "${shown}" is not an octal number`);
    }
    v = v * 8 + (c - 0x30);
  }
  if (!Number.isSafeInteger(v)) throw invalid(`Invalid tar header: ${field} is too large`);
  return v;
}

function checksumOk(h: Buffer): boolean {
  const stored = parseNumber(h, 148, 8, 'checksum');
  let unsigned = 8 * 0x20; // the checksum field counts as spaces
  let high = 0; // bytes > 127, for the signed sum some old writers used
  for (let i = 0; i < 148; i++) {
    const b = h[i]!;
    unsigned += b;
    if (b > 127) high++;
  }
  for (let i = 156; i < block; i++) {
    const b = h[i]!;
    unsigned += b;
    if (b > 127) high++;
  }
  return stored === unsigned || stored === unsigned - 256 * high;
}

interface PaxRecords {
  path?: string;
  linkpath?: string;
  size?: number;
  uid?: number;
  gid?: number;
  mtimeMs?: number;
  xattrs: Map<string, Buffer>;
}

function parsePax(data: Buffer, maxNameBytes: number): PaxRecords {
  const out: PaxRecords = { xattrs: new Map() };
  let pos = 0;
  while (pos < data.length) {
    if (data[pos] === 0) break; // some writers pad with NULs
    const sp = data.indexOf(0x20, pos);
    if (sp < 0 || sp - pos > 20) throw invalid('Invalid tar archive: malformed PAX record length');
    const lenStr = data.toString('latin1', pos, sp);
    if (!/^\d+$/.test(lenStr)) throw invalid('Invalid tar archive: malformed PAX record length');
    const len = parseInt(lenStr, 10);
    if (len < sp - pos + 3 || pos + len > data.length || data[pos + len - 1] !== 0x0a) {
      throw invalid('Invalid tar archive: PAX record overruns its header');
    }
    const rec = data.subarray(sp + 1, pos + len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq < 0) throw invalid('Invalid tar archive: PAX record without "="');
    const key = rec.toString('utf8', 0, eq);
    const valueBytes = rec.subarray(eq + 1);
    const value = valueBytes.toString('utf8');
    const num = (what: string): number => {
      if (!/^\d+(\.\d+)?$/.test(value))
        throw invalid(`Invalid tar archive: PAX ${what} "${value.slice(0, 40)}" is not a number`);
      const n = Number(value);
      if (!Number.isFinite(n) || n > Number.MAX_SAFE_INTEGER)
        throw invalid(`Invalid tar archive: PAX ${what} is too large`);
      return n;
    };
    switch (key) {
      case 'path':
      case 'linkpath':
        if (valueBytes.length > maxNameBytes)
          throw invalid(`Invalid tar archive: PAX ${key} is longer than ${maxNameBytes} bytes`);
        if (value.includes('\0')) throw invalid(`Invalid tar archive: PAX ${key} contains a NUL byte`);
        out[key] = value;
        break;
      case 'size':
        out.size = Math.floor(num('size'));
        break;
      case 'uid':
        out.uid = Math.floor(num('uid'));
        break;
      case 'gid':
        out.gid = Math.floor(num('gid'));
        break;
      case 'mtime':
        out.mtimeMs = Math.floor(num('mtime') * 1000);
        break;
      default:
        if (key.startsWith('SCHILY.xattr.')) {
          const name = key.slice('SCHILY.xattr.'.length);
          if (name === '' || name.length > 255)
            throw invalid(`Invalid tar archive: xattr name "${name.slice(0, 40)}" is not valid`);
          if (valueBytes.length > 65536)
            throw invalid(`Invalid tar archive: xattr "${name}" is larger than 64 KiB`);
          out.xattrs.set(name, Buffer.from(valueBytes));
        }
      // other keys (atime, ctime, uname, gname, comment, vendor records) do not affect unpacking
    }
    pos += len;
  }
  return out;
}

/** One entry as `readTar` yields it (a class: no closures to create per entry). */
class Entry implements TarEntry {
  readonly header: TarHeader;
  readonly #r: ChunkReader;
  consumed = 0;

  constructor(header: TarHeader, r: ChunkReader) {
    this.header = header;
    this.#r = r;
  }

  get body(): AsyncIterable<Buffer> {
    return this.#take();
  }

  async *#take(): AsyncGenerator<Buffer> {
    for await (const c of this.#r.take(this.header.size)) {
      this.consumed += c.length;
      yield c;
    }
  }

  async readAll(): Promise<Buffer> {
    if (this.consumed !== 0) throw new Error('readAll: the body was already read');
    if (this.header.size === 0) return Buffer.alloc(0);
    const data = await this.#r.readExact(this.header.size);
    if (data === undefined)
      throw invalid(`Invalid tar archive: it ends inside an entry's data at byte ${this.#r.offset}`);
    this.consumed = this.header.size;
    return data;
  }
}

/**
 * Reads a tar stream entry by entry. Entries must be handled in order: the next entry is read
 * only after the previous body was consumed or abandoned.
 * @throws Invalid for a malformed archive (bad checksum, truncated data, oversized headers).
 */
export async function* readTar(source: TarSource, limits: TarReaderLimits = {}): AsyncGenerator<TarEntry> {
  const maxMeta = limits.maxMetaBytes ?? 1 << 20;
  const maxName = limits.maxNameBytes ?? 4096;
  const maxEntries = limits.maxEntries ?? 2_000_000;
  const r = new ChunkReader(source);
  let pax: PaxRecords | undefined;
  let longName: string | undefined;
  let longLink: string | undefined;
  let count = 0;
  for (;;) {
    const h = await r.readExact(block);
    if (h === undefined) return; // no end-of-archive marker: accepted, as GNU tar does
    if (h.equals(zeroBlock)) {
      await r.drain();
      return;
    }
    if (!checksumOk(h))
      throw invalid(`Invalid tar archive: header checksum mismatch at byte ${r.offset - block}`);
    const typeflag = String.fromCharCode(h[156]!);
    let size = parseNumber(h, 124, 12, 'size');

    if (typeflag === 'x' || typeflag === 'g' || typeflag === 'L' || typeflag === 'K') {
      const limit = typeflag === 'L' || typeflag === 'K' ? maxName + 1 : maxMeta;
      if (size > limit)
        throw invalid(
          `Invalid tar archive: ${typeflag === 'x' || typeflag === 'g' ? 'PAX header' : 'GNU long name'} of ${size} bytes is larger than the limit of ${limit}`,
        );
      const data = size === 0 ? Buffer.alloc(0) : await r.readExact(padded(size));
      if (data === undefined) throw invalid('Invalid tar archive: it ends after a metadata header');
      const body = data.subarray(0, size);
      if (typeflag === 'x') pax = parsePax(body, maxName);
      else if (typeflag === 'g')
        parsePax(body, maxName); // validated; global defaults do not matter for layers
      else {
        const nul = body.indexOf(0);
        const name = body.subarray(0, nul < 0 ? body.length : nul).toString('utf8');
        if (typeflag === 'L') longName = name;
        else longLink = name;
      }
      continue;
    }

    if (++count > maxEntries) throw invalid(`Invalid tar archive: more than ${maxEntries} entries`);
    const magic = h.toString('latin1', 257, 263);
    let name = cstring(h, 0, 100);
    if (magic.startsWith('ustar')) {
      const prefix = cstring(h, 345, 155);
      if (prefix !== '' && magic === 'ustar\0') name = `${prefix}/${name}`;
    }
    if (longName !== undefined) name = longName;
    if (pax?.path !== undefined) name = pax.path;
    let linkname = cstring(h, 157, 100);
    if (longLink !== undefined) linkname = longLink;
    if (pax?.linkpath !== undefined) linkname = pax.linkpath;
    if (pax?.size !== undefined) size = pax.size;
    if (Buffer.byteLength(name) > maxName || Buffer.byteLength(linkname) > maxName) {
      throw invalid(`Invalid tar archive: a name is longer than ${maxName} bytes`);
    }
    let type: TarEntryType;
    switch (typeflag) {
      case '0':
      case '\0':
      case '7':
        type = name.endsWith('/') ? 'directory' : 'file';
        break;
      case '1':
        type = 'hardlink';
        break;
      case '2':
        type = 'symlink';
        break;
      case '3':
        type = 'char';
        break;
      case '4':
        type = 'block';
        break;
      case '5':
        type = 'directory';
        break;
      case '6':
        type = 'fifo';
        break;
      default:
        throw invalid(
          `Invalid tar archive: entry "${name.slice(0, 200)}" has unsupported type "${typeflag.replace(/[^\x20-\x7e]/g, '?')}"`,
        );
    }
    const header: TarHeader = {
      name,
      type,
      mode: parseNumber(h, 100, 8, 'mode') & 0o7777,
      uid: pax?.uid ?? parseNumber(h, 108, 8, 'uid'),
      gid: pax?.gid ?? parseNumber(h, 116, 8, 'gid'),
      size: type === 'file' ? size : 0,
      mtimeMs: pax?.mtimeMs ?? parseNumber(h, 136, 12, 'mtime') * 1000,
      linkname,
      devmajor: type === 'char' || type === 'block' ? parseNumber(h, 329, 8, 'devmajor') : 0,
      devminor: type === 'char' || type === 'block' ? parseNumber(h, 337, 8, 'devminor') : 0,
      xattrs: pax?.xattrs ?? new Map(),
    };
    pax = undefined;
    longName = undefined;
    longLink = undefined;
    const dataSize = size; // hard links and others may still carry data blocks; skip them
    const entry = new Entry(header, r);
    yield entry;
    // Skip whatever the consumer did not read, plus the padding to the next block.
    await r.skip(dataSize - entry.consumed + (padded(dataSize) - dataSize));
  }
}

// ---------------------------------------------------------------- writer

export interface TarWriteHeader {
  readonly name: string;
  readonly type: TarEntryType;
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
  readonly size?: number;
  readonly mtimeMs?: number;
  readonly linkname?: string;
  readonly devmajor?: number;
  readonly devminor?: number;
  readonly xattrs?: ReadonlyMap<string, Buffer>;
}

const typeflags: Readonly<Record<TarEntryType, string>> = {
  file: '0',
  hardlink: '1',
  symlink: '2',
  char: '3',
  block: '4',
  directory: '5',
  fifo: '6',
};

function writeOctal(buf: Buffer, value: number, start: number, len: number): boolean {
  const s = Math.floor(value).toString(8);
  if (s.length > len - 1) return false;
  buf.write(s.padStart(len - 1, '0') + '\0', start, len, 'latin1');
  return true;
}

function paxRecord(key: string, value: Buffer | string): Buffer {
  const kv = Buffer.concat([
    Buffer.from(` ${key}=`),
    Buffer.isBuffer(value) ? value : Buffer.from(value),
    Buffer.from('\n'),
  ]);
  let len = kv.length + 1;
  while (String(len).length + kv.length !== len) len = String(len).length + kv.length;
  return Buffer.concat([Buffer.from(String(len)), kv]);
}

function rawHeader(
  name: string,
  typeflag: string,
  h: TarWriteHeader,
  size: number,
  records: Buffer[],
): Buffer {
  const buf = Buffer.alloc(block);
  const nameBytes = Buffer.from(name);
  if (nameBytes.length > 100) records.push(paxRecord('path', name));
  nameBytes.copy(buf, 0, 0, Math.min(100, nameBytes.length));
  writeOctal(buf, h.mode ?? (h.type === 'directory' ? 0o755 : 0o644), 100, 8);
  if (!writeOctal(buf, h.uid ?? 0, 108, 8)) records.push(paxRecord('uid', String(h.uid)));
  if (!writeOctal(buf, h.gid ?? 0, 116, 8)) records.push(paxRecord('gid', String(h.gid)));
  if (!writeOctal(buf, size, 124, 12)) {
    records.push(paxRecord('size', String(size)));
    writeOctal(buf, 0, 124, 12);
  }
  writeOctal(buf, Math.floor((h.mtimeMs ?? 0) / 1000), 136, 12);
  buf.write(typeflag, 156, 1, 'latin1');
  const link = Buffer.from(h.linkname ?? '');
  if (link.length > 100) records.push(paxRecord('linkpath', h.linkname ?? ''));
  link.copy(buf, 157, 0, Math.min(100, link.length));
  buf.write('ustar\x0000', 257, 8, 'latin1');
  buf.write(h.uid === 0 || h.uid === undefined ? 'root' : '', 265, 32, 'utf8');
  buf.write(h.gid === 0 || h.gid === undefined ? 'root' : '', 297, 32, 'utf8');
  writeOctal(buf, h.devmajor ?? 0, 329, 8);
  writeOctal(buf, h.devminor ?? 0, 337, 8);
  return buf;
}

function sealChecksum(buf: Buffer): Buffer {
  buf.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of buf) sum += b;
  buf.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1');
  return buf;
}

/** The header block(s) of one entry: a PAX header first when names, ids or xattrs need it. */
export function encodeTarHeader(h: TarWriteHeader): Buffer {
  const size = h.type === 'file' ? (h.size ?? 0) : 0;
  const name = h.type === 'directory' && !h.name.endsWith('/') ? `${h.name}/` : h.name;
  const records: Buffer[] = [];
  const main = rawHeader(name, typeflags[h.type], h, size, records);
  for (const [k, v] of h.xattrs ?? []) records.push(paxRecord(`SCHILY.xattr.${k}`, v));
  sealChecksum(main);
  if (records.length === 0) return main;
  const paxData = Buffer.concat(records);
  const paxName = `PaxHeaders/${name.replace(/\/$/, '').split('/').pop()?.slice(0, 80) ?? 'x'}`;
  const paxHeader = sealChecksum(
    rawHeader(paxName, 'x', { name: paxName, type: 'file', mode: 0o644 }, paxData.length, []),
  );
  return Buffer.concat([paxHeader, paxData, tarPadding(paxData.length), main]);
}

/** Zero bytes that pad an entry of `size` bytes to the block size. */
export function tarPadding(size: number): Buffer {
  const rem = size % block;
  return rem === 0 ? Buffer.alloc(0) : Buffer.alloc(block - rem);
}

/** The end-of-archive marker (two zero blocks). */
export function tarTrailer(): Buffer {
  return Buffer.alloc(block * 2);
}

/** A whole archive in memory, for small archives (tests, image configs). */
export function buildTar(entries: readonly { header: TarWriteHeader; data?: Buffer }[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = e.data ?? Buffer.alloc(0);
    parts.push(encodeTarHeader({ ...e.header, size: e.header.type === 'file' ? data.length : 0 }));
    if (e.header.type === 'file') parts.push(data, tarPadding(data.length));
  }
  parts.push(tarTrailer());
  return Buffer.concat(parts);
}
