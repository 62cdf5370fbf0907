import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findExecutable, nullLogger, systemExec, type Exec } from '../../lib/index.js';
import { createRuncHandler } from './runc-handler.js';

test('the runc handler runs runc through the injected exec', async (t) => {
  const runc = await findExecutable('runc');
  if (process.getuid?.() !== 0 || !runc) {
    t.skip('needs root and runc (the handler refuses to start otherwise)');
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'h8s-runc-exec-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const calls: string[][] = [];
  const exec: Exec = {
    ...systemExec,
    execFile: async (argv, options) => {
      calls.push([...argv]);
      if (argv[1] === '--version') {
        return {
          exitCode: 0,
          exitSignal: null,
          stdout: 'runc version 9.8.7\n',
          stderr: '',
          stdoutBytes: Buffer.alloc(0),
          durationMs: 0,
        };
      }
      return systemExec.execFile(argv, options);
    },
  };
  // shimPath: any existing file, so the probe does not build the shim
  const h = createRuncHandler({
    runcRoot: join(dir, 'runc'),
    runcPath: runc,
    shimPath: process.execPath,
    log: nullLogger,
    exec,
  });
  const p = await h.probe();
  assert.equal(p.available, true, p.reason);
  assert.equal(p.details['runcVersion'], '9.8.7');
  assert.deepEqual(calls, [[runc, '--version']]);
});
