#!/usr/bin/env node
// Collects the test files of every tier and runs them with node:test (Node 20's `--test`
// takes paths, not globs). Tiers (STYLE.md): unit `src/**/*.test.ts`, integration
// `src/**/*.int.test.ts`, e2e `test/e2e/**/*.test.ts`. Ends with node's summary lines.
//
//   node scripts/run-tests.mjs [--tier unit|int|e2e]... [--concurrency N] [path-filter...]
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';
import { findStaleReason } from '../bin/build-stamp.js';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const tiers = new Set();
const filters = [];
let concurrency = process.env.H8S_TEST_CONCURRENCY ?? '2';
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--tier') tiers.add(args[++i]);
  else if (args[i] === '--concurrency') concurrency = args[++i];
  else filters.push(args[i]);
}
if (tiers.size === 0) ['unit', 'int', 'e2e'].forEach((t) => tiers.add(t));

function walk(dir, out) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const files = [];
for (const f of walk(join(root, 'src'), []).sort()) {
  const isInt = f.endsWith('.int.test.ts');
  if ((isInt && tiers.has('int')) || (!isInt && tiers.has('unit'))) files.push(f);
}
if (tiers.has('e2e')) files.push(...walk(join(root, 'test/e2e'), []).sort());
const selected = files
  .map((f) => relative(root, f))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)));

if (selected.length === 0) {
  console.error('No test files matched');
  process.exit(1);
}

// Tests run the sources, but those that start `h8s` or `hyperctl` run bin/, which runs dist/:
// build it first when it is missing or stale (a second or two; nothing when it is fresh).
if (findStaleReason() !== undefined) {
  const b = spawnSync(process.execPath, [join(root, 'scripts/build.mjs'), '--quiet'], { stdio: 'inherit' });
  if (b.status !== 0) process.exit(b.status ?? 1);
}

const nodeArgs = [
  '--import',
  'tsx',
  '--test',
  `--test-concurrency=${concurrency}`,
  '--test-timeout=900000',
  '--test-reporter=spec',
  ...selected,
];
const r = spawnSync(process.execPath, nodeArgs, { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
