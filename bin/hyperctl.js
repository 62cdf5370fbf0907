#!/usr/bin/env node
// `hyperctl`: the runtime daemon's CLI, an alias of `h8s hyperctl`, run from its bundle in
// dist/ (`npm run build`; a missing or stale build is refused).
import { checkBuild } from './build-stamp.js';
import { enableCompileCache } from './compile-cache.js';

checkBuild('hyperctl', 'bin/hyperctl');
enableCompileCache();
const { hyperctlCommandMain } = await import('../dist/bin/hyperctl.js');
process.exitCode = await hyperctlCommandMain(process.argv.slice(2));
