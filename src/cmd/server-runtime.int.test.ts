import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile, isProcessAlive, spawnProcess, waitFor, type ChildHandle } from '../lib/index.js';
import { RuntimeClient } from '../runtime/index.js';

const bin = new URL('../../bin/h8s.js', import.meta.url).pathname;

/** Pids of "Started the runtime daemon" lines in the server's JSON log. */
function runtimePids(log: string): number[] {
  const pids: number[] = [];
  for (const line of log.split('\n')) {
    if (!line.includes('Started the runtime daemon')) continue;
    const entry = JSON.parse(line) as { pid?: number };
    if (typeof entry.pid === 'number') pids.push(entry.pid);
  }
  return pids;
}

describe('h8s server starts and supervises the runtime daemon', { timeout: 180_000 }, () => {
  let dir = '';
  let server: ChildHandle | undefined;
  let log = '';
  let client: RuntimeClient | undefined;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'h8s-server-runtime-'));
  });

  after(async () => {
    client?.close();
    const pids = runtimePids(log);
    await server?.stop(15_000);
    for (const pid of pids) if (isProcessAlive(pid)) process.kill(pid, 'SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it('serves hyperctl on the runtime endpoint, restarts a killed daemon, and stops it with the server', async (t) => {
    const endpoint = `unix://${join(dir, 'runtime.sock')}`;
    server = await spawnProcess(
      [
        process.execPath,
        bin,
        'server',
        '--data-dir',
        dir,
        '--bind-address',
        '127.0.0.1',
        '--port',
        '0',
        '--runtime-endpoint',
        endpoint,
        '--disable',
        'agent,controllers',
      ],
      {
        // runc only and no VM pool: this test is about supervision, not VMs
        extraEnv: { H8S_RUNTIME_HANDLERS: 'runc', H8S_RUNTIME_POOL_SIZE: '0' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    server.stdout?.on('data', (b: Buffer) => (log += b.toString()));
    server.stderr?.on('data', (b: Buffer) => (log += b.toString()));
    try {
      await checkSupervision(endpoint);
    } catch (err) {
      t.diagnostic(`temp dir ${dir}; server log:\n${log}`);
      throw err;
    }
  });

  async function checkSupervision(endpoint: string): Promise<void> {
    assert.ok(server);
    client = new RuntimeClient({ endpoint, timeoutMs: 10_000 });
    const rt = client;
    const info = await waitFor(() => rt.info(), { timeoutMs: 60_000, description: 'the runtime socket' });
    assert.equal(info.rootDir, join(dir, 'runtime'));
    const first = await waitFor(() => runtimePids(log)[0], { timeoutMs: 5_000 });

    // the same endpoint through hyperctl
    const cli = await execFile([process.execPath, bin, 'hyperctl', '--host', endpoint, 'info']);
    assert.match(cli.stdout, /runc: available/);
    assert.match(cli.stdout, /hyper: unavailable \(disabled by configuration/);

    process.kill(first, 'SIGKILL');
    const second = await waitFor(() => runtimePids(log).find((p) => p !== first), {
      timeoutMs: 30_000,
      description: 'a restarted runtime daemon',
    });
    await waitFor(() => rt.info(), { timeoutMs: 60_000, description: 'the restarted runtime' });
    assert.match(log, /The runtime daemon exited; restarting it/);

    const status = await server.stop(15_000);
    assert.equal(status.code, 0, 'the server exits cleanly');
    assert.equal(isProcessAlive(second), false, 'the runtime daemon stops with the server');
  }

  it('refuses a runtime endpoint that is not a unix socket', async () => {
    const r = await execFile(
      [process.execPath, bin, 'server', '--data-dir', dir, '--runtime-endpoint', 'tcp://127.0.0.1:1'],
      { check: false },
    );
    assert.equal(r.exitCode, 2);
    assert.match(r.stderr, /Invalid runtime-endpoint "tcp:\/\/127\.0\.0\.1:1": expected unix:\/\//);
  });
});
