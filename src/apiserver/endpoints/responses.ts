/**
 * Writing responses: JSON (every object and Status, `Content-Type: application/json` as
 * client-node requires), YAML when asked for, and `Warning` headers (`299 - "text"`), which
 * kubectl prints as `Warning: text`.
 */
import type { ServerResponse } from 'node:http';
import { stringify as stringifyYaml } from 'yaml';

/** At most this many warnings per response, each cut to this length (upstream limits them too). */
const maxWarnings = 50;
const maxWarningLength = 4096;

/**
 * A warning as an RFC 7234 header value. Header values may only carry visible ASCII (and
 * tabs/spaces here), and warnings echo user input (unknown field names), so everything else
 * is escaped as `\uXXXX`.
 */
function warningHeader(text: string): string {
  const clean = text
    .slice(0, maxWarningLength)
    .replace(/\\/g, '\\\\')
    .replace(/"/g, '\\"')
    .replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return `299 - "${clean}"`;
}

/** Sets the Warning headers of `warnings` (deduplicated). */
export function setWarnings(res: ServerResponse, warnings: readonly string[]): void {
  if (warnings.length === 0 || res.headersSent) return;
  const unique = [...new Set(warnings)].slice(0, maxWarnings);
  res.setHeader('Warning', unique.map(warningHeader));
}

export function writeJson(
  res: ServerResponse,
  code: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): void {
  writeRawJson(res, code, JSON.stringify(body), headers);
}

/** Writes JSON text that is already serialized. */
export function writeRawJson(
  res: ServerResponse,
  code: number,
  text: string,
  headers: Readonly<Record<string, string>> = {},
): void {
  res.writeHead(code, {
    'Content-Type': 'application/json',
    'Cache-Control': 'no-cache, private',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

export function writeYaml(res: ServerResponse, code: number, body: unknown): void {
  const text = stringifyYaml(body, { lineWidth: 0 });
  res.writeHead(code, {
    'Content-Type': 'application/yaml',
    'Cache-Control': 'no-cache, private',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

export function writeText(
  res: ServerResponse,
  code: number,
  text: string,
  contentType = 'text/plain; charset=utf-8',
): void {
  res.writeHead(code, {
    'Content-Type': contentType,
    'Cache-Control': 'no-cache, private',
    'X-Content-Type-Options': 'nosniff',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** Writes JSON that is already serialized as byte chunks (concatenated once, no re-encoding). */
export function writeJsonChunks(res: ServerResponse, code: number, chunks: readonly Uint8Array[]): void {
  let length = 0;
  for (const c of chunks) length += c.length;
  res.writeHead(code, {
    'Content-Type': 'application/json',
    'Cache-Control': 'no-cache, private',
    'Content-Length': length,
  });
  res.end(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, length));
}
