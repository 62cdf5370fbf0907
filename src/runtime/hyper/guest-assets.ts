/**
 * The guest kernel and initramfs built by scripts/setup.d/30-guest.sh into
 * `<repo>/.cache/guest/current/` with a manifest of versions and hashes.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import { notFound, parseJson, parseWith } from '../../lib/index.js';

const ManifestSchema = Type.Object({
  schema: Type.Literal(1),
  buildHash: Type.String(),
  kernelVersion: Type.String(),
  vmlinuz: Type.String(),
  initrd: Type.String(),
  vmlinuzSha256: Type.String(),
  initrdSha256: Type.String(),
  agentSha256: Type.String(),
});

export interface GuestAssets {
  readonly kernel: string;
  readonly initrd: string;
  readonly kernelVersion: string;
  /** Changes whenever the kernel or the initramfs changes (cache key of the KVM probe). */
  readonly buildHash: string;
}

/** `<repo>/.cache/guest/current` for a repository root. */
export function defaultGuestDir(repoRoot: string): string {
  return join(repoRoot, '.cache', 'guest', 'current');
}

/** Reads the manifest of a guest build. @throws NotFound with how to build it */
export async function findGuestAssets(dir: string): Promise<GuestAssets> {
  let text: string;
  try {
    text = await readFile(join(dir, 'manifest.json'), 'utf8');
  } catch (err) {
    throw notFound(
      `Guest kernel and initramfs not found in "${dir}": run scripts/setup.d/30-guest.sh (or npm run setup)`,
      {
        cause: err,
      },
    );
  }
  const m = parseWith(ManifestSchema, parseJson(text, 'guest manifest'), `guest manifest in "${dir}"`);
  return {
    kernel: join(dir, m.vmlinuz),
    initrd: join(dir, m.initrd),
    kernelVersion: m.kernelVersion,
    buildHash: m.buildHash,
  };
}
