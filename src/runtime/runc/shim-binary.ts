/**
 * The runc handler's helper program (shim/h8s-runc-shim.c, every container's monitor) is built
 * ahead of time, never on first use: `npm run build` (scripts/build.mjs) compiles it with the
 * host's C compiler into dist/libexec/h8s-runc-shim-<source hash> and names the current one
 * in dist/libexec/manifest.json (docs/adr/0009-compiled-build.md). Naming by hash keeps a
 * daemon on the exact binary it started with while a rebuild installs the next one.
 */
import { createHash } from 'node:crypto';
import { access, constants, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isRecord, unavailable } from '../../lib/index.js';

/** Whether this process runs the TypeScript sources (then the build's output is ../../../dist). */
const fromSources = import.meta.url.endsWith('.ts');

/** Where the build installs helper programs: `<repo>/dist/libexec`. */
export const libexecDir = fileURLToPath(
  new URL(fromSources ? '../../../dist/libexec' : '../../libexec', import.meta.url),
);

/** The shim's source, which the sources compare with the build's (from dist/ it may be absent). */
const shimSourcePath = fileURLToPath(
  new URL(
    fromSources ? './shim/h8s-runc-shim.c' : '../../../src/runtime/runc/shim/h8s-runc-shim.c',
    import.meta.url,
  ),
);

const rebuild = 'run "npm run build" (after "npm run setup", which installs the C compiler)';

/**
 * The path of the shim the build installed in `dir` (default `libexecDir`).
 * @throws ServiceUnavailable naming `npm run build` when it is missing, not executable, or (when
 *   running from sources) built from another version of the source
 */
export async function findShimBinary(dir: string = libexecDir): Promise<string> {
  const manifestPath = join(dir, 'manifest.json');
  let manifest: unknown;
  try {
    manifest = JSON.parse(await readFile(manifestPath, 'utf8'));
  } catch (err) {
    throw unavailable(`The runc shim is not built (cannot read "${manifestPath}"): ${rebuild}`, {
      cause: err,
    });
  }
  const shim = isRecord(manifest) && isRecord(manifest['shim']) ? manifest['shim'] : undefined;
  const file = shim?.['file'];
  const sourceSha256 = shim?.['sourceSha256'];
  if (
    typeof file !== 'string' ||
    !/^h8s-runc-shim-[0-9a-f]{16}$/.test(file) ||
    typeof sourceSha256 !== 'string'
  ) {
    throw unavailable(`The runc shim manifest "${manifestPath}" is malformed: ${rebuild}`);
  }
  if (fromSources) {
    const source = await readFile(shimSourcePath);
    if (createHash('sha256').update(source).digest('hex') !== sourceSha256) {
      throw unavailable(
        `The runc shim in "${dir}" was built from another version of "${shimSourcePath}": ${rebuild}`,
      );
    }
  }
  const path = join(dir, file);
  try {
    await access(path, constants.X_OK);
  } catch (err) {
    throw unavailable(`The runc shim "${path}" is missing or not executable: ${rebuild}`, { cause: err });
  }
  return path;
}
