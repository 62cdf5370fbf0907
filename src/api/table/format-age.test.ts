import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ageSince, formatAge } from './format-age.js';

const s = 1000;
const m = 60 * s;
const h = 60 * m;
const d = 24 * h;

describe('formatAge', () => {
  it('renders durations the way kubectl does', () => {
    const cases: [number, string][] = [
      [-5 * s, '<invalid>'],
      [-1500, '0s'],
      [0, '0s'],
      [45 * s, '45s'],
      [119 * s, '119s'],
      [2 * m, '2m'],
      [3 * m + 20 * s, '3m20s'],
      [10 * m, '10m'],
      [179 * m, '179m'],
      [3 * h, '3h'],
      [3 * h + 2 * m, '3h2m'],
      [8 * h, '8h'],
      [47 * h, '47h'],
      [2 * d, '2d'],
      [2 * d + 5 * h, '2d5h'],
      [8 * d, '8d'],
      [800 * d, '2y70d'],
      [365 * 9 * d, '9y'],
    ];
    for (const [ms, want] of cases) assert.equal(formatAge(ms), want, `${ms}ms`);
  });

  it('renders an unknown age for missing timestamps', () => {
    assert.equal(ageSince(undefined, 0), '<unknown>');
    assert.equal(ageSince('2024-01-01T00:00:00Z', Date.UTC(2024, 0, 1, 0, 5)), '5m');
  });
});
