/** The version the API server reports and the agent registers with. */
import type { VersionInfo } from '../apiserver/index.js';
import { packageVersion } from './daemon.js';

/** The Kubernetes minor version we serve (kubectl's dispatcher picks its binary by it). */
export const kubernetesMinor = 32;

export function versionInfo(): VersionInfo {
  return {
    major: '1',
    minor: String(kubernetesMinor),
    gitVersion: `v1.${kubernetesMinor}.0+h8s.${packageVersion()}`,
    gitCommit: '0000000000000000000000000000000000000000',
    gitTreeState: 'clean',
    buildDate: '2025-01-01T00:00:00Z',
    goVersion: `node${process.versions.node}`,
    compiler: import.meta.url.endsWith('.ts') ? 'tsx' : 'esbuild',
    platform: `${process.platform}/${process.arch === 'x64' ? 'amd64' : process.arch}`,
  };
}
