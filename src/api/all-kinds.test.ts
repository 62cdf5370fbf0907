import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from './kind-definition.js';
import { allKinds, apiVersionOf } from './kinds.js';
import { admit, causeLines } from './testing/admission.js';
import { sampleManifests } from './testing/sample-manifests.js';

const NOW = Date.UTC(2024, 0, 1, 0, 10);

describe('every served kind', () => {
  it('has a sample manifest', () => {
    assert.deepEqual(
      allKinds()
        .map((d) => d.kind)
        .filter((k) => !sampleManifests[k]),
      [],
    );
  });

  for (const def of allKinds()) {
    const sample = sampleManifests[def.kind] as Record<string, unknown>;
    describe(def.kind, () => {
      it('admits its sample manifest without causes or unknown fields (strict decoding)', () => {
        assert.equal(sample['apiVersion'], apiVersionOf(def));
        const r = admit(def, sample, { nowMs: Date.UTC(2024, 0, 1) });
        assert.deepEqual(causeLines(r), []);
      });

      it('is idempotent under defaulting and accepts a no-op update', () => {
        const first = admit(def, sample, { nowMs: Date.UTC(2024, 0, 1) }).object;
        const again = structuredClone(first);
        def.applyDefaults(again, { operation: 'update', nowMs: NOW });
        assert.deepEqual(again, first);
        assert.deepEqual(causeLines(admit(def, structuredClone(first), { old: first })), []);
      });

      it('renders one table cell per column', () => {
        const obj = admit(def, sample, { nowMs: Date.UTC(2024, 0, 1) }).object as KubeObject;
        const row = def.row(obj, NOW);
        assert.equal(row.length, def.columns.length);
        const nameIdx = def.columns.findIndex((c) => c.format === 'name');
        assert.ok(nameIdx >= 0);
        assert.match(String(row[nameIdx]), new RegExp(`^${obj.metadata.name}`));
        const ageIdx = def.columns.findIndex((c) => c.name === 'Age');
        if (ageIdx >= 0) assert.equal(row[ageIdx], '10m');
      });

      it('answers every field selector with a string', () => {
        const obj = admit(def, sample).object as KubeObject;
        for (const [label, fn] of Object.entries(def.fieldSelectors))
          assert.equal(typeof fn(obj), 'string', label);
      });
    });
  }
});
