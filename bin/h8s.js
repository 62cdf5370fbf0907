#!/usr/bin/env node
// Entry point of the multicall `h8s` binary: loads the TypeScript sources through tsx.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cmd/h8s.ts');
process.exitCode = await main(process.argv.slice(2));
