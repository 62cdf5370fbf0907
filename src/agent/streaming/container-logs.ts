/**
 * `GET /containerLogs/{ns}/{pod}/{container}` (kubelet's log endpoint): the container's CRI
 * log as plain text, flushed line by line, with kubelet's query parameters: `follow`,
 * `previous`, `sinceSeconds` or `sinceTime` (RFC 3339), `tailLines`, `timestamps`
 * (each line prefixed with its RFC 3339 nano time and a space) and `limitBytes`.
 */
import type { ServerResponse } from 'node:http';
import { badRequest, describeError, type Clock, type Logger } from '../../lib/index.js';
import type { LogOptions, RuntimeService } from '../../runtime/index.js';

export interface LogQuery {
  readonly follow: boolean;
  readonly previous: boolean;
  readonly timestamps: boolean;
  readonly tailLines?: number;
  readonly limitBytes?: number;
  readonly sinceNs?: number;
}

export function isTrue(v: string | null): boolean {
  return v === 'true' || v === '1';
}

function nonNegativeInt(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  if (!/^\d{1,15}$/.test(v))
    throw badRequest(`Invalid value "${v}" of ${name}: expected a non-negative integer`);
  return Number(v);
}

/** Parses the query. @throws BadRequest */
export function parseLogQuery(q: URLSearchParams, clock: Clock): LogQuery {
  const tailLines = nonNegativeInt(q, 'tailLines');
  const limitBytes = nonNegativeInt(q, 'limitBytes');
  const sinceSeconds = nonNegativeInt(q, 'sinceSeconds');
  const sinceTime = q.get('sinceTime');
  let sinceNs: number | undefined;
  if (sinceSeconds !== undefined) sinceNs = (clock.now() - sinceSeconds * 1000) * 1e6;
  else if (sinceTime) {
    const ms = Date.parse(sinceTime);
    if (Number.isNaN(ms)) throw badRequest(`Invalid value "${sinceTime}" of sinceTime: expected RFC 3339`);
    sinceNs = ms * 1e6;
  }
  return {
    follow: isTrue(q.get('follow')),
    previous: isTrue(q.get('previous')),
    timestamps: isTrue(q.get('timestamps')),
    ...(tailLines !== undefined ? { tailLines } : {}),
    ...(limitBytes !== undefined ? { limitBytes } : {}),
    ...(sinceNs !== undefined ? { sinceNs } : {}),
  };
}

/** Streams the log of `containerId` into `res` (200 once the runtime answers). Never rejects. */
export async function serveContainerLogs(
  runtime: RuntimeService,
  containerId: string,
  query: LogQuery,
  res: ServerResponse,
  log: Logger,
): Promise<void> {
  const abort = new AbortController();
  res.on('close', () => abort.abort());
  const options: LogOptions = {
    follow: query.follow,
    signal: abort.signal,
    ...(query.tailLines !== undefined ? { tailLines: query.tailLines } : {}),
    ...(query.sinceNs !== undefined ? { sinceNs: query.sinceNs } : {}),
  };
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Cache-Control': 'no-cache' });
  res.flushHeaders();
  let left = query.limitBytes ?? Infinity;
  try {
    for await (const line of runtime.containerLogs(containerId, options)) {
      const parts: Buffer[] = [];
      if (query.timestamps) parts.push(Buffer.from(`${line.time} `));
      parts.push(Buffer.from(line.content));
      if (line.full) parts.push(Buffer.from('\n'));
      let text = Buffer.concat(parts);
      if (text.length > left) text = text.subarray(0, left);
      left -= text.length;
      if (text.length > 0 && !res.write(text)) {
        await new Promise<void>((resolve) => {
          res.once('drain', resolve);
          res.once('close', resolve);
        });
      }
      if (left <= 0 || abort.signal.aborted) break;
    }
  } catch (err) {
    if (!abort.signal.aborted)
      log.info('A container log stream broke', { containerId, error: describeError(err) });
  } finally {
    abort.abort();
    res.end();
  }
}
