/**
 * Reading and decoding request bodies: a hard size limit (413 past it, as upstream's 3 MiB),
 * JSON (also when no Content-Type is sent, as kubectl 1.20 does), YAML, protobuf through the api
 * module's decoder, and the four patch types. Malformed bodies are 400s that name the problem.
 */
import type { IncomingMessage } from 'node:http';
import { parse as parseYaml } from 'yaml';
import { badRequest, tooLarge, unsupportedMediaType } from '../../lib/index.js';
import { scanJsonText } from './duplicate-fields.js';

/** Upstream's limit for request bodies (`maxRequestBodyBytes`). */
export const defaultMaxRequestBodyBytes = 3 * 1024 * 1024;

/** Deepest nesting a decoded body may have (recursive walks stay far from the stack limit). */
export const maxBodyDepth = 100;

export type BodyFormat =
  'json' | 'yaml' | 'protobuf' | 'json-patch' | 'merge-patch' | 'strategic-merge-patch' | 'apply';

function tooLargeError(limit: number): Error {
  return tooLarge(`Request entity too large: limit is ${limit}`);
}

/**
 * Reads the whole body, failing with RequestEntityTooLarge past `limitBytes` (checked against
 * Content-Length first, then while reading).
 */
export function readBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limitBytes) return Promise.reject(tooLargeError(limitBytes));
  if (req.complete) return Promise.resolve(Buffer.alloc(0));
  return new Promise((resolve, reject) => {
    // Anonymous handlers and a flag instead of named closures that are removed again: this
    // runs for every write request (the listeners go with the request).
    const chunks: Buffer[] = [];
    let size = 0;
    let isSettled = false;
    req.on('data', (chunk: Buffer) => {
      if (isSettled) return;
      size += chunk.length;
      if (size > limitBytes) {
        isSettled = true;
        req.resume();
        reject(tooLargeError(limitBytes));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (isSettled) return;
      isSettled = true;
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    });
    req.on('error', (err: Error) => {
      if (isSettled) return;
      isSettled = true;
      reject(badRequest(`Cannot read the request body: ${err.message}`, { cause: err }));
    });
    req.on('close', () => {
      if (isSettled || req.complete) return;
      isSettled = true;
      const err = new Error('the client closed the connection');
      reject(badRequest(`Cannot read the request body: ${err.message}`, { cause: err }));
    });
  });
}

function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

/** The format of a create/update body. @throws UnsupportedMediaType */
export function objectBodyFormat(contentType: string | undefined): BodyFormat {
  const t = mediaType(contentType);
  if (t === '' || t === 'application/json' || t === '*/*') return 'json';
  if (t === 'application/yaml' || t === 'application/x-yaml' || t === 'text/yaml') return 'yaml';
  if (t === 'application/vnd.kubernetes.protobuf') return 'protobuf';
  throw unsupportedMediaType(
    `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf`,
  );
}

/** The patch type of a PATCH body. @throws UnsupportedMediaType */
export function patchBodyFormat(contentType: string | undefined): BodyFormat {
  switch (mediaType(contentType)) {
    case 'application/json-patch+json':
      return 'json-patch';
    case 'application/merge-patch+json':
      return 'merge-patch';
    case 'application/strategic-merge-patch+json':
      return 'strategic-merge-patch';
    case 'application/apply-patch+yaml':
      return 'apply';
    default:
      throw unsupportedMediaType(
        `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json`,
      );
  }
}

/** Nesting depth of a decoded value, without recursion. */
export function depthOf(value: unknown, limit: number): number {
  let max = 0;
  const stack: { v: unknown; d: number }[] = [{ v: value, d: 0 }];
  while (stack.length > 0) {
    const { v, d } = stack.pop() as { v: unknown; d: number };
    if (d > max) {
      max = d;
      if (max > limit) return max;
    }
    if (typeof v === 'object' && v !== null) {
      for (const child of Array.isArray(v) ? v : Object.values(v)) {
        if (typeof child === 'object' && child !== null) stack.push({ v: child, d: d + 1 });
      }
    }
  }
  return max;
}

function checkDepth(value: unknown): unknown {
  if (depthOf(value, maxBodyDepth) > maxBodyDepth) {
    throw badRequest(`The request body is nested more than ${maxBodyDepth} levels deep`);
  }
  return value;
}

/** JSON text → value. @throws BadRequest naming the syntax error */
export function decodeJson(bytes: Buffer, what = 'request body'): unknown {
  return decodeJsonBody(bytes, what).value;
}

/**
 * JSON text → value, plus the keys the text repeats (for strict field validation), in one
 * extra pass over the text that also bounds the nesting depth.
 * @throws BadRequest for invalid JSON or nesting deeper than `maxBodyDepth`.
 */
export function decodeJsonBody(
  bytes: Buffer,
  what = 'request body',
): { value: unknown; duplicates: string[] } {
  if (bytes.length === 0) throw badRequest(`The ${what} is empty; expected a JSON object`);
  const text = bytes.toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    if (err instanceof SyntaxError || err instanceof RangeError) {
      throw badRequest(`The ${what} is not valid JSON: ${err.message}`);
    }
    throw err;
  }
  const scan = scanJsonText(text, maxBodyDepth);
  if (scan.isTooDeep) throw badRequest(`The ${what} is nested more than ${maxBodyDepth} levels deep`);
  return { value, duplicates: scan.duplicates };
}

/** YAML (one document) → value. JSON is valid YAML; it takes the fast path. @throws BadRequest */
export function decodeYaml(bytes: Buffer, what = 'request body'): unknown {
  const text = bytes.toString('utf8');
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      return checkDepth(JSON.parse(text));
    } catch {
      // Not JSON after all (flow-style YAML): fall through to the YAML parser.
    }
  }
  let value: unknown;
  try {
    value = parseYaml(text, { maxAliasCount: 100, prettyErrors: false, strict: true });
  } catch (err) {
    const msg = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw badRequest(`The ${what} is not valid YAML: ${msg}`);
  }
  if (value === null || value === undefined)
    throw badRequest(`The ${what} is empty; expected a YAML mapping`);
  return checkDepth(value);
}
