/**
 * resourceVersion strings. They are opaque to clients but ours are store revisions: decimal
 * integers. "" means unset; "0" means "any version" for reads.
 */
import { badRequest } from '../../lib/index.js';

/**
 * Parses a resourceVersion; undefined when unset.
 * @throws BadRequest for anything but a non-negative decimal integer.
 */
export function parseResourceVersion(raw: string | undefined, field = 'resourceVersion'): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (!/^(0|[1-9]\d{0,15})$/.test(raw) || !Number.isSafeInteger(Number(raw))) {
    throw badRequest(
      `Invalid ${field} ${JSON.stringify(raw)}: it must be a resource version returned by this server`,
    );
  }
  return Number(raw);
}
