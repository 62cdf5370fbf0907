/**
 * e2e helpers for the real `hyperctl` binary (bin/hyperctl.js) against a runtime daemon's socket.
 */
import { join } from 'node:path';
import { execFile } from '../../../src/lib/index.js';
import { repoRoot } from '../../../src/runtime/testing/test-runtime.js';

export const hyperctlBin = join(repoRoot, 'bin', 'hyperctl.js');

export interface HyperctlResult {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

/** Runs `hyperctl --host ENDPOINT ARGS...`; never throws on a non-zero exit unless `check`. */
export async function runHyperctl(
  endpoint: string,
  args: readonly string[],
  options: { home?: string; timeoutMs?: number; check?: boolean } = {},
): Promise<HyperctlResult> {
  const r = await execFile([process.execPath, hyperctlBin, '--host', endpoint, ...args], {
    check: options.check ?? false,
    timeoutMs: options.timeoutMs ?? 180_000,
    cwd: repoRoot,
    ...(options.home !== undefined ? { extraEnv: { HOME: options.home } } : {}),
  });
  return { code: r.exitCode, out: r.stdout, err: r.stderr };
}
