/**
 * Entry point of an unpack worker thread (started by unpack-pool.ts). It runs one
 * `runUnpackJob` at a time as the pool asks, and talks to the pool only through messages:
 * `start`, `available` and `abort` in; `done`, `failed` and `log` out. Errors cross as
 * `{ code, message }` and are rebuilt as H8sErrors on the other side.
 */
import { parentPort } from 'node:worker_threads';
import { findH8sError, type LogFields, type Logger, type LogLevel } from '../lib/index.js';
import type { PoolReply, PoolRequest } from './unpack-pool.js';
import { FollowState, runUnpackJob } from './unpack-job.js';

const port = parentPort;
if (!port) throw new Error('unpack-worker.ts runs only as a worker thread');

interface Running {
  readonly controller: AbortController;
  readonly follow: FollowState;
}

const running = new Map<number, Running>();

function post(m: PoolReply): void {
  port!.postMessage(m);
}

/** Logs through the pool; at most `budget` lines per job (a hostile layer can make many). */
function jobLogger(id: number, debug: boolean, fields: LogFields = {}): Logger {
  let budget = 200;
  const send = (level: LogLevel, message: string, f?: LogFields): void => {
    if (level === 'debug' && !debug) return;
    if (budget-- <= 0) return;
    const plain: Record<string, unknown> = {};
    for (const [k, v] of Object.entries({ ...fields, ...f })) {
      plain[k] = v instanceof Error ? v.message : typeof v === 'object' && v !== null ? JSON.stringify(v) : v;
    }
    post({ type: 'log', id, level, message, fields: plain });
  };
  const log: Logger = {
    debug: (m, f) => send('debug', m, f),
    info: (m, f) => send('info', m, f),
    warn: (m, f) => send('warn', m, f),
    error: (m, f) => send('error', m, f),
    child: (f) => jobLogger(id, debug, { ...fields, ...f }),
    isEnabled: (level) => level !== 'debug' || debug,
  };
  return log;
}

async function start(m: Extract<PoolRequest, { type: 'start' }>): Promise<void> {
  const job: Running = { controller: new AbortController(), follow: new FollowState() };
  job.follow.update(m.available, m.ended);
  running.set(m.id, job);
  try {
    const result = await runUnpackJob(m.spec, {
      log: jobLogger(m.id, m.debug),
      signal: job.controller.signal,
      follow: job.follow,
    });
    post({ type: 'done', id: m.id, result });
  } catch (err) {
    const h = findH8sError(err);
    post({
      type: 'failed',
      id: m.id,
      error: {
        code: h?.code ?? 'InternalError',
        message: (err instanceof Error ? err.message : String(err)).slice(0, 4000),
        errno: (err as NodeJS.ErrnoException | undefined)?.code,
      },
    });
  } finally {
    running.delete(m.id);
  }
}

port.on('message', (m: PoolRequest) => {
  switch (m.type) {
    case 'start':
      void start(m);
      break;
    case 'available':
      running.get(m.id)?.follow.update(m.bytes, m.ended);
      break;
    case 'abort': {
      const job = running.get(m.id);
      job?.controller.abort(new Error('unpack aborted'));
      job?.follow.wake();
      break;
    }
  }
});
post({ type: 'ready' });
