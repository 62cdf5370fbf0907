/**
 * Micro-benchmark of the api-side write pipeline (`admit`: clone, nulls, unknown fields, compiled
 * schema check, defaults, metadata + kind validation) and of `row()`, per sample kind.
 * Run: `npx tsx src/api/testing/admission.bench.ts [Kind ...]`. Not a test; reads the clock.
 */
import { allKinds } from '../kinds.js';
import { admit } from './admission.js';
import { sampleManifests } from './sample-manifests.js';

const ITERATIONS = 20_000;

function microsPerOp(fn: () => void): number {
  for (let i = 0; i < ITERATIONS / 10; i++) fn();
  const start = performance.now();
  for (let i = 0; i < ITERATIONS; i++) fn();
  return ((performance.now() - start) * 1000) / ITERATIONS;
}

const wanted = process.argv.slice(2);
const kinds =
  wanted.length > 0 ? wanted : ['Pod', 'Deployment', 'Service', 'ConfigMap', 'Namespace', 'Network'];
for (const kind of kinds) {
  const def = allKinds().find((d) => d.kind === kind);
  const manifest = sampleManifests[kind];
  if (!def || !manifest) throw new Error(`no kind or sample manifest named ${kind}`);
  const nowMs = Date.UTC(2024, 0, 1);
  const admitUs = microsPerOp(() => admit(def, manifest, { nowMs }));
  const obj = admit(def, manifest, { nowMs }).object;
  const rowUs = microsPerOp(() => def.row(obj, nowMs + 60_000));
  process.stdout.write(
    `${kind.padEnd(12)} admit ${admitUs.toFixed(1).padStart(7)} µs/op   row ${rowUs.toFixed(1).padStart(6)} µs/op\n`,
  );
}
