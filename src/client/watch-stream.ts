/**
 * Reading a watch response: one JSON event per line (`{"type": ..., "object": ...}`), as the
 * API server writes it (reference/kubernetes-api.md section 5).
 *
 * An ERROR event ends the iteration by throwing the H8sError its Status maps to (Expired for a
 * compacted revision). A silent connection is cut after `idleTimeoutMs` with Timeout. The line
 * length is bounded so a broken server cannot make the client buffer without limit.
 */
import {
  abortReason,
  internal,
  isRecord,
  systemClock,
  timeout,
  unavailable,
  type Clock,
} from '../lib/index.js';
import type { KubeObject } from '../api/index.js';
import type { HttpStream } from './http-transport.js';
import { parseObjectReply } from './reply-schemas.js';
import { errorFromStatus } from './status-error.js';
import type { WatchEvent } from './wire-types.js';

export interface WatchStreamOptions {
  readonly signal?: AbortSignal | undefined;
  /** Cut the stream when nothing (not even a bookmark) arrives for this long. */
  readonly idleTimeoutMs?: number | undefined;
  readonly maxLineBytes?: number | undefined;
  readonly clock?: Clock | undefined;
  /** Fills in `apiVersion`/`kind` of objects that lack them. */
  readonly apiVersion?: string | undefined;
  readonly kind?: string | undefined;
  /** For error messages, e.g. `GET /api/v1/pods?watch=true`. */
  readonly description: string;
}

const defaultMaxLineBytes = 32 * 1024 * 1024;
const highWaterBytes = 8 * 1024 * 1024;

/** Validates one decoded event; undefined for lines to skip. */
export function decodeWatchEvent(
  value: unknown,
  fill: { apiVersion?: string | undefined; kind?: string | undefined },
): WatchEvent | { type: 'ERROR'; object: unknown } | undefined {
  if (!isRecord(value)) return undefined;
  const type = value['type'];
  const object = value['object'];
  if (type === 'ERROR') return { type, object };
  if (type !== 'ADDED' && type !== 'MODIFIED' && type !== 'DELETED' && type !== 'BOOKMARK') return undefined;
  // A known event whose object is not an object is the server's fault: InternalError naming it.
  return { type, object: parseObjectReply<KubeObject>(object, `a ${type} watch event`, fill) };
}

/** Iterates the events of an open watch stream; closes it when the iteration ends for any reason. */
export async function* readWatchStream<T extends KubeObject>(
  stream: HttpStream,
  options: WatchStreamOptions,
): AsyncGenerator<WatchEvent<T>, void, undefined> {
  const clock = options.clock ?? systemClock;
  const maxLine = options.maxLineBytes ?? defaultMaxLineBytes;
  const queue: Buffer[] = [];
  let queuedBytes = 0;
  let ended = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  let idleTimer = options.idleTimeoutMs !== undefined ? armIdle() : undefined;
  function armIdle() {
    return clock.setTimeout(() => {
      failure ??= timeout(`Watch "${options.description}" received nothing for ${options.idleTimeoutMs} ms`);
      stream.close();
      notify();
    }, options.idleTimeoutMs ?? 0);
  }
  const onData = (chunk: Buffer): void => {
    queue.push(chunk);
    queuedBytes += chunk.length;
    if (options.idleTimeoutMs !== undefined) {
      idleTimer?.cancel();
      idleTimer = armIdle();
    }
    // Back-pressure: stop reading while the consumer works through a large backlog.
    if (queuedBytes > highWaterBytes) stream.body.pause();
    notify();
  };
  const onEnd = (): void => {
    ended = true;
    notify();
  };
  const onClose = (): void => {
    // 'close' without the whole message: the connection dropped mid-stream (the server stopped).
    if (!ended && !stream.isComplete()) {
      failure ??= unavailable(`The watch "${options.description}" was cut off`);
    }
    ended = true;
    notify();
  };
  const onError = (err: Error): void => {
    failure ??= unavailable(`Lost the watch "${options.description}"`, { cause: err });
    notify();
  };
  const onAbort = (): void => {
    failure ??= abortReason(options.signal);
    stream.close();
    notify();
  };
  stream.body.on('data', onData);
  stream.body.on('end', onEnd);
  stream.body.on('close', onClose);
  stream.body.on('error', onError);
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) onAbort();

  let partial: Buffer[] = [];
  let partialSize = 0;
  try {
    for (;;) {
      const chunk = queue.shift();
      if (chunk === undefined) {
        if (failure !== undefined) throw failure;
        if (ended) {
          // A last line without a newline still counts.
          if (partialSize > 0) {
            const ev = parseLine(Buffer.concat(partial));
            partial = [];
            partialSize = 0;
            if (ev) yield ev as WatchEvent<T>;
          }
          return;
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        continue;
      }
      queuedBytes -= chunk.length;
      if (stream.body.isPaused() && queuedBytes < highWaterBytes / 8) stream.body.resume();
      let start = 0;
      for (let nl = chunk.indexOf(10, start); nl >= 0; nl = chunk.indexOf(10, start)) {
        partial.push(chunk.subarray(start, nl));
        const line = Buffer.concat(partial);
        partial = [];
        partialSize = 0;
        start = nl + 1;
        const ev = parseLine(line);
        if (ev) yield ev as WatchEvent<T>;
        if (failure !== undefined) throw failure;
      }
      if (start < chunk.length) {
        partial.push(chunk.subarray(start));
        partialSize += chunk.length - start;
        if (partialSize > maxLine) {
          throw internal(`Watch "${options.description}" sent an event larger than ${maxLine} bytes`);
        }
      }
    }
  } finally {
    idleTimer?.cancel();
    options.signal?.removeEventListener('abort', onAbort);
    stream.body.off('data', onData);
    stream.body.off('end', onEnd);
    stream.body.off('close', onClose);
    stream.body.off('error', onError);
    stream.close();
  }

  function parseLine(line: Buffer): WatchEvent | undefined {
    const text = line.toString('utf8').trim();
    if (text === '') return undefined;
    let value: unknown;
    try {
      value = JSON.parse(text) as unknown;
    } catch (err) {
      throw internal(`Watch "${options.description}" sent a line that is not JSON`, { cause: err });
    }
    const ev = decodeWatchEvent(value, options);
    if (ev === undefined) return undefined;
    if (ev.type === 'ERROR') {
      const code = isRecord(ev.object) && typeof ev.object['code'] === 'number' ? ev.object['code'] : 500;
      throw errorFromStatus(ev.object, code);
    }
    return ev;
  }
}
