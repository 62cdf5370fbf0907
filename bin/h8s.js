#!/usr/bin/env node
// Entry point of the multicall `h8s` binary. It runs the compiled build in dist/ (written by
// `npm run build`, docs/adr/0009-compiled-build.md) and refuses a missing or stale one. The
// short-lived commands start from their own bundles; every other command (the daemons) from
// the one-module-per-file build, dist/cmd/h8s.js.
import { checkBuild } from './build-stamp.js';
import { enableCompileCache } from './compile-cache.js';

const argv = process.argv.slice(2);
const command = argv[0];
if (command === 'kubeconfig') {
  checkBuild('h8s kubeconfig', 'bin/kubeconfig');
  enableCompileCache();
  const { kubeconfigMain } = await import('../dist/bin/kubeconfig.js');
  process.exitCode = await kubeconfigMain(argv.slice(1));
} else if (command === 'hyperctl') {
  checkBuild('hyperctl', 'bin/hyperctl');
  enableCompileCache();
  const { hyperctlCommandMain } = await import('../dist/bin/hyperctl.js');
  process.exitCode = await hyperctlCommandMain(argv.slice(1));
} else {
  checkBuild('h8s');
  enableCompileCache();
  const { main } = await import('../dist/cmd/h8s.js');
  process.exitCode = await main(argv);
}
