/**
 * The runtime daemon is killed with SIGKILL while runc containers run: the containers keep
 * running (their monitors outlive the daemon), and the restarted daemon re-adopts them from
 * its root — `hyperctl list` shows them, exec works, logs continue — and reports, with its
 * exit code, a container that exited while no daemon was there.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFile, waitFor } from '../../src/lib/index.js';
import { repoRoot, startTestRuntime, type TestRuntime } from '../../src/runtime/testing/test-runtime.js';

import { hyperctlBin } from './helpers/hyperctl.js';

describe('runc pods across a daemon kill -9', { timeout: 600_000 }, () => {
  let d: TestRuntime;
  let tmp = '';

  const hyperctl = async (...args: string[]) => {
    const r = await execFile([process.execPath, hyperctlBin, '--host', d.endpoint, ...args], {
      check: false,
      timeoutMs: 120_000,
      cwd: repoRoot,
    });
    return { code: r.exitCode, out: r.stdout, err: r.stderr };
  };

  before(async () => {
    tmp = await mkdtemp('/tmp/h8s-runc-restart-');
    d = await startTestRuntime({ handlers: ['runc'], childProcess: true });
  });

  after(async () => {
    if (process.exitCode) console.error(`runtime root: ${d?.root}\n${d?.logs().slice(-6000)}`);
    await d?.stop();
    await rm(tmp, { recursive: true, force: true });
  });

  it('keeps containers running, re-adopts them and reports exits that happened meanwhile', async () => {
    const rt = d.client;
    const trigger = join(tmp, 'trigger');
    await mkdir(trigger);
    const ticker = await hyperctl(
      'run',
      '-d',
      '--runtime',
      'runc',
      '--name',
      'ticker',
      d.busyboxRef,
      'sh',
      '-c',
      'i=0; while true; do echo tick-$i; i=$((i+1)); sleep 0.1; done',
    );
    assert.equal(ticker.code, 0, ticker.err);
    assert.match(ticker.out, /Time to run a POD is \d+ ms/);
    const waiter = await hyperctl(
      'run',
      '-d',
      '--runtime',
      'runc',
      '--name',
      'waiter',
      '-v',
      `${trigger}:/trigger`,
      d.busyboxRef,
      'sh',
      '-c',
      'while [ ! -e /trigger/go ]; do sleep 0.05; done; echo bye > /trigger/done; exit 42',
    );
    assert.equal(waiter.code, 0, waiter.err);
    const tickerStatus = await rt.containerStatus(
      (await rt.listContainers()).find((c) => c.metadata.name === 'ticker')!.id,
    );
    const logPath = tickerStatus.logPath;
    await waitFor(async () => (await readFile(logPath, 'utf8')).includes('tick-3'), { timeoutMs: 30_000 });

    await d.kill9();

    // without a daemon: the ticker keeps logging and the waiter can exit
    const before = (await readFile(logPath, 'utf8')).length;
    await waitFor(async () => (await readFile(logPath, 'utf8')).length > before + 100, {
      timeoutMs: 30_000,
      description: 'the container to keep logging with no daemon',
    });
    await writeFile(join(trigger, 'go'), '');
    await waitFor(
      async () => {
        await access(join(trigger, 'done'));
        return true;
      },
      { timeoutMs: 30_000, description: 'the waiter to exit while the daemon is down' },
    );

    await d.restart();

    const pods = await hyperctl('list');
    assert.equal(pods.code, 0, pods.err);
    assert.match(pods.out, /ticker\s+running\s+runc/);
    assert.match(pods.out, /waiter\s+failed\s+runc/);
    const containers = await hyperctl('list', 'container');
    assert.match(containers.out, /ticker\s+\S+\s+running/);
    const waiterId = (await rt.listContainers()).find((c) => c.metadata.name === 'waiter')!.id;
    const ws = await rt.containerStatus(waiterId);
    assert.equal(ws.state, 'CONTAINER_EXITED');
    assert.equal(ws.exitCode, 42, 'the exit code of an exit that happened while the daemon was down');

    const exec = await hyperctl('exec', 'ticker', 'sh', '-c', 'echo exec-after-restart; exit 3');
    assert.equal(exec.code, 3);
    assert.equal(exec.out, 'exec-after-restart\n');

    // logs continue: follow until a tick newer than anything logged so far shows up
    const last = Math.max(
      ...[...(await readFile(logPath, 'utf8')).matchAll(/tick-(\d+)/g)].map((m) => Number(m[1])),
    );
    const ac = new AbortController();
    let newest = -1;
    for await (const line of rt.containerLogs(tickerStatus.id, {
      follow: true,
      tailLines: 1,
      signal: ac.signal,
    })) {
      newest = Number(/tick-(\d+)/.exec(Buffer.from(line.content).toString())?.[1] ?? -1);
      if (newest > last + 2) ac.abort();
    }
    assert.ok(newest > last + 2, `logs go on after the restart (newest tick ${newest}, before ${last})`);

    // the adopted container still stops and reports its exit
    const stop = await hyperctl('stop', 'ticker');
    assert.equal(stop.code, 0, stop.err);
    assert.equal((await rt.containerStatus(tickerStatus.id)).state, 'CONTAINER_EXITED');
    const rm1 = await hyperctl('rm', 'ticker', 'waiter');
    assert.equal(rm1.code, 0, rm1.err);
    assert.equal((await hyperctl('list', '-q')).out.trim(), '');
  });
});
