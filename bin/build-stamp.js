// The freshness stamp of the compiled build (docs/adr/0009-compiled-build.md): `npm run build`
// (scripts/build.mjs) writes dist/build-stamp.json listing every input with its mtime and size,
// and the bin/ wrappers call `checkBuild` before loading dist/, so a changed, added or removed
// source is refused with a message instead of running code that no longer matches the tree.
//
// An input is any file under src/ except tests (`*.test.ts`), benches (`*.bench.ts`) and
// `testing/` folders (none of which are compiled), plus the few files that shape the output.
// The full check (daemons: `h8s server`, `h8s runtime`) reads each input folder (an added or
// removed file changes its listing) and stats each input file, a few milliseconds. A bundled
// CLI checks only the sources its bundle was made of (an added file cannot change a bundle
// without an edit to a file it already has), so `hyperctl info` pays well under a millisecond.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');
export const distDir = join(repoRoot, 'dist');
export const stampPath = join(distDir, 'build-stamp.json');

/** Files outside src/ whose change changes the build. */
export const extraInputs = ['package.json', 'package-lock.json', 'scripts/build.mjs'];

/** Whether a file under src/ is compiled. */
function isInputFile(name) {
  if (name.startsWith('.') || name.endsWith('.test.ts') || name.endsWith('.bench.ts')) return false;
  return name.endsWith('.ts') || name.endsWith('.c') || name.endsWith('.h');
}

/** The listing of one src/ folder as the stamp keeps it: input files, and folders with a `/`. */
function listDir(rel) {
  const names = [];
  for (const entry of readdirSync(join(repoRoot, rel), { withFileTypes: true })) {
    if (entry.isDirectory()) {
      if (entry.name !== 'testing' && !entry.name.startsWith('.')) names.push(`${entry.name}/`);
    } else if (isInputFile(entry.name)) {
      names.push(entry.name);
    }
  }
  return names.sort();
}

/** The stamp of the tree as it is now: `{ dirs: { dir: names }, files: { path: [mtimeMs, size] } }`. */
export function currentStamp() {
  const dirs = {};
  const files = [];
  const walk = (rel) => {
    const names = listDir(rel);
    dirs[rel] = names;
    for (const n of names) {
      if (n.endsWith('/')) walk(`${rel}/${n.slice(0, -1)}`);
      else files.push(`${rel}/${n}`);
    }
  };
  walk('src');
  const stats = {};
  for (const f of [...files.sort(), ...extraInputs]) {
    const st = statSync(join(repoRoot, f));
    stats[f] = [st.mtimeMs, st.size];
  }
  return { dirs, files: stats };
}

function changedFile(stamp, file) {
  const want = stamp.files[file];
  if (!want) return `${file} is not in the build`;
  const st = statSync(join(repoRoot, file), { throwIfNoEntry: false });
  if (!st) return `${file} is gone`;
  if (st.mtimeMs !== want[0] || st.size !== want[1]) return `${file} changed after the build`;
  return undefined;
}

/**
 * Why dist/ cannot be used, or undefined when it was built from the tree as it is now. With a
 * `bundle` name (`bin/hyperctl`), only the inputs of that bundle are checked.
 */
export function findStaleReason(bundle) {
  let stamp;
  try {
    stamp = JSON.parse(readFileSync(stampPath, 'utf8'));
  } catch {
    return 'there is no build (dist/ is missing)';
  }
  if (stamp.schema !== 2) return 'dist/ was written by another version of the build script';
  if (bundle !== undefined) {
    const inputs = stamp.bundles?.[bundle];
    if (!inputs) return `the build has no bundle "${bundle}"`;
    for (const file of inputs) {
      const reason = changedFile(stamp, file);
      if (reason) return reason;
    }
    return undefined;
  }
  for (const [dir, names] of Object.entries(stamp.dirs)) {
    let now;
    try {
      now = listDir(dir);
    } catch {
      return `${dir}/ is gone`;
    }
    if (now.length !== names.length || now.some((n, i) => n !== names[i])) {
      return `files were added to or removed from ${dir}/`;
    }
  }
  for (const file of Object.keys(stamp.files)) {
    const reason = changedFile(stamp, file);
    if (reason) return reason;
  }
  return undefined;
}

/**
 * Exits the process with a message naming `npm run build` when dist/ is missing or stale (for
 * `bundle`, when that bundle's inputs changed). `H8S_SKIP_BUILD_CHECK=1` skips the check, for
 * an installation that ships dist/ without the sources.
 */
export function checkBuild(command, bundle) {
  if (process.env.H8S_SKIP_BUILD_CHECK === '1') return;
  const reason = findStaleReason(bundle);
  if (reason === undefined) return;
  process.stderr.write(`${command}: cannot start: ${reason}; run "npm run build" in ${repoRoot}\n`);
  process.exit(1);
}
