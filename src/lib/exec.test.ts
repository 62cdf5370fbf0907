import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnProcess, isProcessAlive } from './exec.js';
import { isTimeout, isInternal } from './errors.js';
import { waitFor } from './wait.js';

describe('execFile', () => {
  it('returns output and exit code of a program run as argv', async () => {
    const r = await execFile(['sh', '-c', 'printf "%s" "$1"; echo err >&2', 'sh', 'a b;c']);
    assert.equal(r.stdout, 'a b;c');
    assert.equal(r.stderr, 'err\n');
    assert.equal(r.exitCode, 0);
  });

  it('passes input on stdin', async () => {
    const r = await execFile(['cat'], { input: 'hello' });
    assert.equal(r.stdout, 'hello');
  });

  it('throws InternalError naming the command on a non-zero exit unless told not to', async () => {
    await assert.rejects(execFile(['sh', '-c', 'echo broken >&2; exit 3']), (err: Error) => {
      assert.ok(isInternal(err));
      assert.match(err.message, /exited with code 3: broken/);
      return true;
    });
    const r = await execFile(['sh', '-c', 'exit 3'], { check: false });
    assert.equal(r.exitCode, 3);
  });

  it('kills a program that overruns its timeout', async () => {
    await assert.rejects(execFile(['sleep', '10'], { timeoutMs: 100 }), (err: Error) => isTimeout(err));
  });

  it('reports a missing program clearly', async () => {
    await assert.rejects(execFile(['/nonexistent/prog']), /Cannot run "\/nonexistent\/prog"/);
  });

  it('caps output kept in memory', async () => {
    const r = await execFile(['sh', '-c', 'head -c 100000 /dev/zero'], { maxOutputBytes: 1000 });
    assert.equal(r.stdoutBytes.length, 1000);
  });
});

describe('spawnProcess', () => {
  it('stops its child when the owner signal aborts', async () => {
    const ac = new AbortController();
    const child = await spawnProcess(['sleep', '30'], { signal: ac.signal, killGraceMs: 100 });
    assert.ok(isProcessAlive(child.pid));
    ac.abort();
    const status = await child.exited;
    assert.equal(status.signal, 'SIGTERM');
    await waitFor(() => !isProcessAlive(child.pid), {
      timeoutMs: 2000,
      description: 'the child to be reaped',
    });
  });
});
