#!/usr/bin/env node
// `hyperctl`: the runtime daemon's CLI, an alias of `h8s hyperctl`.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cmd/h8s.ts');
process.exitCode = await main(['hyperctl', ...process.argv.slice(2)]);
