#!/usr/bin/env node
// `h8s` from the TypeScript sources, through tsx, with no build: for development only (every
// start transpiles the modules it loads, about a second). `npm run build` and bin/h8s.js are
// what users, `npm run up` and CI run. Daemons started this way start their children
// (`h8s runtime`) the same way, so a whole source run never mixes in dist/.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cmd/h8s.ts');
process.exitCode = await main(process.argv.slice(2));
