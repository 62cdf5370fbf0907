import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isBadRequest } from '../../../lib/index.js';
import {
  labelSelectorFromObject,
  labelSelectorToString,
  matchesLabelSelector,
  parseLabelSelector,
  validateLabelSelector,
} from './label-selector.js';

describe('parseLabelSelector', () => {
  const labels = { app: 'web', tier: 'front', version: '3' };

  it('matches equality, inequality, sets and existence', () => {
    const yes = [
      'app=web',
      'app==web',
      'app!=db',
      'tier in (front,back)',
      'tier notin (db)',
      'app',
      '!canary',
      'app=web,tier=front',
      'version>2',
      'version<4',
      'missing!=x',
      'missing notin (a)',
      '',
    ];
    for (const s of yes) assert.ok(matchesLabelSelector(parseLabelSelector(s), labels), s);
    const no = [
      'app=db',
      'app!=web',
      'tier in (back)',
      '!app',
      'canary',
      'app=web,tier=back',
      'version>3',
      'missing=x',
      'missing in (a)',
    ];
    for (const s of no) assert.ok(!matchesLabelSelector(parseLabelSelector(s), labels), s);
  });

  it('tolerates spaces around operators and inside sets', () => {
    assert.ok(matchesLabelSelector(parseLabelSelector(' app = web , tier in ( front , back ) '), labels));
  });

  it('rejects malformed selectors with BadRequest', () => {
    for (const s of [
      'app=web,',
      '=web',
      'app in ()',
      'app in (a',
      'bad key=x',
      'app=bad value',
      'version>x',
    ]) {
      assert.throws(
        () => parseLabelSelector(s),
        (err: Error) => isBadRequest(err),
        s,
      );
    }
  });

  it('prints the canonical form sorted by key', () => {
    assert.equal(
      labelSelectorToString(parseLabelSelector('tier in (b,a),app=web,!x,y')),
      'app=web,tier in (a,b),!x,y',
    );
  });
});

describe('labelSelectorFromObject', () => {
  it('treats a missing selector as matching nothing and an empty one as everything', () => {
    assert.ok(!matchesLabelSelector(labelSelectorFromObject(undefined), {}));
    assert.ok(matchesLabelSelector(labelSelectorFromObject({}), {}));
  });

  it('combines matchLabels and matchExpressions', () => {
    const sel = labelSelectorFromObject({
      matchLabels: { app: 'web' },
      matchExpressions: [
        { key: 'tier', operator: 'In', values: ['front'] },
        { key: 'canary', operator: 'DoesNotExist' },
      ],
    });
    assert.ok(matchesLabelSelector(sel, { app: 'web', tier: 'front' }));
    assert.ok(!matchesLabelSelector(sel, { app: 'web', tier: 'front', canary: 'y' }));
    assert.equal(labelSelectorToString(sel), 'app=web,!canary,tier=front');
  });

  it('validates operators and values with upstream messages', () => {
    const causes = validateLabelSelector(
      {
        matchExpressions: [
          { key: 'a', operator: 'In' },
          { key: 'b', operator: 'Exists', values: ['x'] },
          { key: 'c', operator: 'Maybe' },
        ],
      },
      'spec.selector',
    );
    assert.deepEqual(
      causes.map((c) => `${c.field}: ${c.message}`),
      [
        "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
        "spec.selector.matchExpressions[1].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
        'spec.selector.matchExpressions[2].operator: Unsupported value: "Maybe": supported values: "In", "NotIn", "Exists", "DoesNotExist"',
      ],
    );
  });
});
