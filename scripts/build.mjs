#!/usr/bin/env node
// `npm run build`: the compiled build (docs/adr/0009-compiled-build.md). Writes
//
//   dist/<path>.js           one ES module per source file under src/ (tests, benches and
//                            testing/ folders excluded), same layout, so import.meta.url
//                            relative paths (worker entries, ../../package.json) still hold
//   dist/bin/hyperctl.js     the short-lived CLIs bundled into one module each, so they start
//   dist/bin/kubeconfig.js   without resolving and loading ~100 files
//   dist/libexec/            the runc shim, compiled from src/runtime/runc/shim/ with cc and
//                            named by its source hash; manifest.json names the current one
//   dist/build-stamp.json    the inputs the build saw (bin/build-stamp.js checks it)
//
// Files are rewritten only when their content changed (through a rename, so a running daemon
// that imports a module late never reads half a file), and outputs no longer produced are removed.
//
//   node scripts/build.mjs [--quiet] [--analyze]   (--analyze: what the bundles are made of)
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { analyzeMetafile, build } from 'esbuild';
import { currentStamp, distDir, extraInputs, repoRoot, stampPath } from '../bin/build-stamp.js';

const quiet = process.argv.includes('--quiet');
const say = (line) => {
  if (!quiet) console.log(`build: ${line}`);
};
const startedMs = performance.now();

// Taken before compiling: a source saved during the build leaves the stamp stale, as it should.
const stamp = currentStamp();
const sources = Object.keys(stamp.files).filter((f) => f.startsWith('src/') && f.endsWith('.ts'));

const common = {
  absWorkingDir: repoRoot,
  format: 'esm',
  platform: 'node',
  target: 'node20.12',
  sourcemap: 'linked',
  sourcesContent: false,
  logLevel: 'warning',
  write: false,
};

// 1. One module per source file: what the daemons and worker threads run.
const modules = await build({
  ...common,
  entryPoints: sources,
  outdir: distDir,
  outbase: 'src',
  bundle: false,
});

/**
 * Our modules declare no import-time side effects (a module runs only definitions), so a
 * bundle drops every module none of whose exports it uses: hyperctl does not carry the guest
 * manifest schema because `runtime/index.ts` re-exports `findGuestAssets`. esbuild warns when an
 * import is dropped for this reason, so a module that needs its side effects shows up at build time.
 */
const sourcesHaveNoSideEffects = {
  name: 'sources-have-no-side-effects',
  setup(b) {
    b.onResolve({ filter: /^\.\.?\//, namespace: 'file' }, async (args) => {
      if (args.pluginData === 'resolving') return undefined;
      const r = await b.resolve(args.path, {
        kind: args.kind,
        importer: args.importer,
        resolveDir: args.resolveDir,
        pluginData: 'resolving',
      });
      if (r.errors.length > 0 || !r.path.startsWith(join(repoRoot, 'src') + '/')) return r;
      return { ...r, sideEffects: false };
    });
  },
};

// 2. The short-lived CLIs, bundled. Packages are bundled too except those loaded only on a
// rare path (yaml: `h8s kubeconfig --server`) or native (better-sqlite3, never reached here).
// `require` is provided for the CommonJS packages inside the ES module bundle.
const bundles = await build({
  ...common,
  entryPoints: { 'bin/hyperctl': 'src/cmd/hyperctl.ts', 'bin/kubeconfig': 'src/cmd/kubeconfig.ts' },
  outdir: distDir,
  bundle: true,
  // Lazily imported code (a subcommand, the runtime daemon side) goes into chunks loaded on use.
  splitting: true,
  // Fewer bytes for V8 to scan on every start (a third of hyperctl's start was compiling);
  // names are kept so stack traces and the source maps still read.
  minifyWhitespace: true,
  minifySyntax: true,
  chunkNames: 'bin/chunks/[name]-[hash]',
  external: ['better-sqlite3'],
  banner: {
    js: "import { createRequire as __h8sCreateRequire } from 'node:module'; const require = __h8sCreateRequire(import.meta.url);",
  },
  plugins: [sourcesHaveNoSideEffects],
  metafile: true,
});

const outputs = [...modules.outputFiles, ...bundles.outputFiles];
let written = 0;
for (const out of outputs) {
  if (existsSync(out.path) && readFileSync(out.path).equals(out.contents)) continue;
  mkdirSync(dirname(out.path), { recursive: true });
  const tmp = `${out.path}.${process.pid}.tmp`;
  writeFileSync(tmp, out.contents);
  renameSync(tmp, out.path);
  written++;
}

// Remove outputs of sources that are gone (libexec and the stamp are not esbuild's).
const produced = new Set(outputs.map((o) => o.path));
let removed = 0;
const prune = (dir) => {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (p === join(distDir, 'libexec')) continue;
      prune(p);
      if (readdirSync(p).length === 0) rmSync(p, { recursive: true });
    } else if (p !== stampPath && !produced.has(p)) {
      unlinkSync(p);
      removed++;
    }
  }
};
prune(distDir);
say(`${sources.length} modules and 2 bundles (${written} files written, ${removed} removed)`);
for (const [name, out] of Object.entries(bundles.metafile.outputs)) {
  if (name.endsWith('.js'))
    say(`${name}: ${Object.keys(out.inputs).length} inputs, ${Math.round(out.bytes / 1024)} KiB`);
}

if (process.argv.includes('--analyze')) console.log(await analyzeMetafile(bundles.metafile));

// 3. The runc shim, a static C helper the runc handler runs as each container's monitor.
// Named by the hash of its source so a daemon keeps the exact binary it started with.
const shimSource = 'src/runtime/runc/shim/h8s-runc-shim.c';
const libexec = join(distDir, 'libexec');
mkdirSync(libexec, { recursive: true });
const shimSha256 = createHash('sha256')
  .update(readFileSync(join(repoRoot, shimSource)))
  .digest('hex');
const shimFile = `h8s-runc-shim-${shimSha256.slice(0, 16)}`;
const shimPath = join(libexec, shimFile);
if (!existsSync(shimPath)) {
  const cc = ['cc', 'gcc'].find((c) => {
    try {
      execFileSync(c, ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  });
  if (!cc) {
    console.error(
      'build: cannot build the runc shim: no C compiler (cc or gcc) on PATH; run "npm run setup" first',
    );
    process.exit(1);
  }
  const tmp = `${shimPath}.${process.pid}.tmp`;
  execFileSync(cc, ['-O2', '-Wall', '-o', tmp, join(repoRoot, shimSource)], { stdio: 'inherit' });
  renameSync(tmp, shimPath);
  say(`built ${relative(repoRoot, shimPath)} with ${cc}`);
}
const manifest = { schema: 1, shim: { file: shimFile, source: shimSource, sourceSha256: shimSha256 } };
writeFileSync(join(libexec, 'manifest.json.tmp'), `${JSON.stringify(manifest, null, 2)}\n`);
renameSync(join(libexec, 'manifest.json.tmp'), join(libexec, 'manifest.json'));
rmSync(join(libexec, 'h8s-runc-shim.tmp'), { force: true });
symlinkSync(shimFile, join(libexec, 'h8s-runc-shim.tmp'));
renameSync(join(libexec, 'h8s-runc-shim.tmp'), join(libexec, 'h8s-runc-shim'));
// Keep the three newest shims: monitors of running containers may still use an older one.
readdirSync(libexec)
  .filter((f) => /^h8s-runc-shim-[0-9a-f]{16}$/.test(f))
  .map((f) => ({ f, mtimeMs: statSync(join(libexec, f)).mtimeMs }))
  .sort((a, b) => b.mtimeMs - a.mtimeMs)
  .slice(3)
  .forEach(({ f }) => unlinkSync(join(libexec, f)));

// Each bundle's sources, its chunks (lazy ones too) included, for the bundle's own check.
const bundleInputs = {};
const outs = bundles.metafile.outputs;
for (const [out, meta] of Object.entries(outs)) {
  if (!meta.entryPoint || out.includes('/chunks/')) continue;
  const seen = new Set();
  const inputs = new Set(extraInputs);
  const visit = (o) => {
    if (seen.has(o) || !outs[o]) return;
    seen.add(o);
    for (const i of Object.keys(outs[o].inputs)) if (i.startsWith('src/')) inputs.add(i);
    for (const imp of outs[o].imports) if (!imp.external) visit(imp.path);
  };
  visit(out);
  bundleInputs[relative(distDir, join(repoRoot, out)).replace(/\.js$/, '')] = [...inputs].sort();
}

writeFileSync(`${stampPath}.tmp`, `${JSON.stringify({ schema: 2, ...stamp, bundles: bundleInputs })}\n`);
renameSync(`${stampPath}.tmp`, stampPath);
say(`done in ${Math.round(performance.now() - startedMs)} ms`);
