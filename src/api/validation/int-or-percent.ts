/**
 * Int-or-percent values (`maxSurge: 25%`, `maxUnavailable: 1`): validation with upstream's
 * messages, and resolution against a total as controllers need it.
 */
import type { StatusCause } from '../../lib/index.js';
import { invalidCause } from './field-causes.js';

const percentRe = /^[0-9]+%$/;

/** Upstream `ValidatePositiveIntOrPercent` + `IsNotMoreThan100Percent`. */
export function validateIntOrPercent(
  causes: StatusCause[],
  value: number | string | undefined,
  path: string,
  max100 = true,
): void {
  if (value === undefined) return;
  if (typeof value === 'string') {
    if (!percentRe.test(value)) {
      causes.push(
        invalidCause(
          path,
          value,
          "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
        ),
      );
      return;
    }
    if (max100 && Number(value.slice(0, -1)) > 100)
      causes.push(invalidCause(path, value, 'must not be greater than 100%'));
  } else if (value < 0) {
    causes.push(invalidCause(path, value, 'must be greater than or equal to 0'));
  }
}

/** Whether an int-or-percent is zero (`0` or `0%`). */
export function isZeroIntOrPercent(value: number | string | undefined): boolean {
  return value === 0 || value === '0%';
}

/**
 * Resolves `value` against `total` (upstream `GetScaledValueFromIntOrPercent`): integers as is,
 * percentages of total rounded up or down.
 * @throws Error for a malformed percentage (validation rejects those first).
 */
export function resolveIntOrPercent(
  value: number | string | undefined,
  total: number,
  roundUp: boolean,
): number {
  if (value === undefined) return 0;
  if (typeof value === 'number') return value;
  if (!percentRe.test(value))
    throw new Error(
      `Invalid value for IntOrString: invalid value "${value}": must be an integer or a percentage`,
    );
  const scaled = (Number(value.slice(0, -1)) * total) / 100;
  return roundUp ? Math.ceil(scaled) : Math.floor(scaled);
}
