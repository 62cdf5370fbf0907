/** Timestamps as Kubernetes writes `metav1.Time`. */

let lastSecond = NaN;
let lastFormatted = '';

/**
 * RFC 3339 with seconds precision (`2024-01-01T00:00:00Z`), as Kubernetes writes `metav1.Time`.
 * The text of the last second is kept: every write of a busy server formats the same second.
 */
export function formatTime(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== lastSecond) {
    lastSecond = second;
    lastFormatted = new Date(second * 1000).toISOString().replace('.000Z', 'Z');
  }
  return lastFormatted;
}
