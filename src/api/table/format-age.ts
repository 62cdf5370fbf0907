/**
 * Durations as kubectl prints them in AGE columns (apimachinery `duration.HumanDuration`):
 * `45s`, `5m`, `3m20s`, `3h2m`, `2d`, `2d5h`, `3y45d`.
 */

/** Renders a duration in ms the way `kubectl get` renders ages. */
export function formatAge(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  // Up to 2 s of clock skew counts as "now", as upstream tolerates.
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 60 * 2) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 60 * 3) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const days = Math.floor(hours / 24);
    const dy = days % 365;
    return dy === 0 ? `${Math.floor(days / 365)}y` : `${Math.floor(days / 365)}y${dy}d`;
  }
  return `${Math.floor(hours / 24 / 365)}y`;
}

/**
 * The age of an RFC 3339 timestamp at `nowMs`, as kubectl's `translateTimestampSince`:
 * `<unknown>` when the timestamp is missing or unparsable.
 */
export function ageSince(timestamp: string | undefined, nowMs: number): string {
  if (!timestamp) return '<unknown>';
  const t = Date.parse(timestamp);
  if (Number.isNaN(t)) return '<unknown>';
  return formatAge(nowMs - t);
}
