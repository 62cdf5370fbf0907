/**
 * The token cleaner (upstream's `tokencleaner` controller): deletes bootstrap-token Secrets in
 * kube-system whose `expiration` has passed, so an expired join token disappears from
 * `h8s token list` and from the store. The API server refuses expired tokens on its own; this
 * only tidies up. An `expiration` that does not parse counts as expired, as the server's does.
 *
 * It sweeps every `intervalMs` (default 60 s) and also wakes at the next expiry it saw.
 * Deletion is conditional on the Secret's uid, so a token recreated under the same name since
 * the sweep read it is left alone.
 */
import type { KubeObject } from '../../api/index.js';
import { builtinResources, type ApiClient } from '../../client/index.js';
import {
  describeError,
  isConflict,
  isNotFound,
  nullLogger,
  systemClock,
  type Clock,
  type Logger,
} from '../../lib/index.js';

export interface TokenCleanerOptions {
  readonly client: ApiClient;
  readonly log?: Logger | undefined;
  readonly clock?: Clock | undefined;
  readonly intervalMs?: number | undefined;
}

const bootstrapTokenType = 'bootstrap.kubernetes.io/token';

function expirationMs(secret: KubeObject): number | undefined {
  const data = (secret as { data?: Record<string, unknown> }).data;
  const raw = data?.['expiration'];
  if (typeof raw !== 'string') return undefined;
  const text = Buffer.from(raw, 'base64').toString('utf8');
  if (text === '') return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? 0 : ms;
}

export function createTokenCleaner(options: TokenCleanerOptions): {
  run(signal: AbortSignal): Promise<void>;
} {
  const clock = options.clock ?? systemClock;
  const log = (options.log ?? nullLogger).child({ controller: 'tokencleaner' });
  const intervalMs = options.intervalMs ?? 60_000;
  const secrets = options.client.resource(builtinResources.secrets, 'kube-system');

  /** Deletes what has expired; returns the next expiry still ahead. */
  async function sweep(signal: AbortSignal): Promise<number | undefined> {
    const list = await secrets.listAll({ signal });
    const now = clock.now();
    let next: number | undefined;
    for (const s of list.items) {
      if ((s as { type?: unknown }).type !== bootstrapTokenType) continue;
      const exp = expirationMs(s);
      if (exp === undefined) continue;
      if (exp > now) {
        next = next === undefined ? exp : Math.min(next, exp);
        continue;
      }
      const name = s.metadata.name ?? '';
      try {
        await secrets.delete(name, { preconditions: { uid: s.metadata.uid ?? '' } });
        log.info('Deleted an expired bootstrap token', { secret: name });
      } catch (err) {
        if (!isNotFound(err) && !isConflict(err)) throw err;
      }
    }
    return next;
  }

  return {
    async run(signal) {
      while (!signal.aborted) {
        let waitMs = intervalMs;
        try {
          const next = await sweep(signal);
          if (next !== undefined) waitMs = Math.min(waitMs, Math.max(next - clock.now(), 0) + 1_000);
        } catch (err) {
          if (signal.aborted) return;
          log.warn('Cannot sweep bootstrap tokens', { error: describeError(err) });
        }
        try {
          await clock.sleep(waitMs, signal);
        } catch {
          return;
        }
      }
    },
  };
}
