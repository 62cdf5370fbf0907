/**
 * Finds the kubectl binaries the api tests run: 1.33 beside the image's kubectl dispatcher,
 * Debian's 1.20 unpacked by scripts/setup.d/20-kubectl-1.20.sh. Fails (never skips) when one is
 * missing, naming the fix.
 */
import { existsSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { execFile, findExecutable } from '../../lib/index.js';

const repoRoot = new URL('../../../', import.meta.url).pathname;

export async function kubectlBinary(version: '1.33' | '1.27' | '1.20'): Promise<string> {
  if (version === '1.20') {
    const p = join(repoRoot, '.cache/kubectl-1.20/usr/bin/kubectl');
    if (!existsSync(p))
      throw new Error(`kubectl 1.20 is missing at ${p}: run scripts/setup.d/20-kubectl-1.20.sh`);
    return p;
  }
  const dispatcher = await findExecutable('kubectl');
  if (!dispatcher) throw new Error('kubectl is not on PATH');
  const p = join(dirname(realpathSync(dispatcher)), `kubectl.${version}`);
  if (!existsSync(p)) throw new Error(`versioned kubectl missing: ${p}`);
  return p;
}

export interface KubectlResult {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

/** Runs kubectl against `kubeconfig` with its own cache dir (discovery is cached on disk). */
export async function runKubectl(
  bin: string,
  kubeconfig: string,
  cacheDir: string,
  args: readonly string[],
): Promise<KubectlResult> {
  const r = await execFile([bin, `--kubeconfig=${kubeconfig}`, `--cache-dir=${cacheDir}`, ...args], {
    check: false,
    timeoutMs: 60_000,
  });
  return { code: r.exitCode, out: r.stdout, err: r.stderr };
}
