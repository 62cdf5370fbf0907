import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from '../lib/index.js';

const bin = new URL('../../bin/h8s.js', import.meta.url).pathname;

describe('h8s CLI', () => {
  it('prints its version', async () => {
    const r = await execFile([process.execPath, bin, '--version']);
    assert.match(r.stdout, /^h8s version v\d+\.\d+\.\d+/);
  });

  it('lists its commands with --help', async () => {
    const r = await execFile([process.execPath, bin, '--help']);
    assert.match(r.stdout, /Usage: h8s <command>/);
    assert.match(r.stdout, /version/);
  });

  it('names an unknown command and exits 2', async () => {
    const r = await execFile([process.execPath, bin, 'frobnicate'], { check: false });
    assert.equal(r.exitCode, 2);
    assert.match(r.stderr, /unknown command "frobnicate"/);
  });
});
