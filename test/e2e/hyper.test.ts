/**
 * HyperContainer pods end to end: the real `h8s runtime` daemon (child process, so it can be
 * killed with SIGKILL) with the hyper handler, real VMs under QEMU (TCG here), the real
 * `hyperctl` binary, tmux for the interactive shell, and busybox from a loopback registry.
 * One daemon and a few pods are shared by the tests of this file, in order.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { release } from 'node:os';
import { join } from 'node:path';
import { execFile, waitFor } from '../../src/lib/index.js';
import { defaultGuestDir, findGuestAssets, type GuestAssets } from '../../src/runtime/index.js';
import { repoRoot, startTestRuntime, type TestRuntime } from '../../src/runtime/testing/test-runtime.js';

import { hyperctlBin } from './helpers/hyperctl.js';
import { killProcessesUnder } from '../../src/runtime/testing/processes.js';

describe('hyper pods through the daemon and hyperctl', { timeout: 900_000 }, () => {
  let d: TestRuntime;
  let guest: GuestAssets;
  let tmp: string;
  let pod = '';
  const tmuxSession = `h8s-hyper-e2e-${process.pid}`;

  const hyperctl = async (args: string[], check = false) => {
    const r = await execFile([process.execPath, hyperctlBin, '--host', d.endpoint, ...args], {
      check,
      timeoutMs: 300_000,
      cwd: repoRoot,
    });
    return { code: r.exitCode, out: r.stdout, err: r.stderr };
  };

  before(async () => {
    tmp = await mkdtemp('/tmp/h8s-hyper-e2e-');
    guest = await findGuestAssets(defaultGuestDir(repoRoot));
    d = await startTestRuntime({
      childProcess: true,
      handlers: ['hyper'],
      extraArgs: ['--guest-dir', defaultGuestDir(repoRoot), '--pool-size', '1'],
    });
  });

  after(async () => {
    await execFile(['tmux', 'kill-session', '-t', tmuxSession], { check: false });
    if (process.exitCode) console.error(`runtime root: ${d?.root}\n${d?.logs().slice(-6000)}`);
    const root = d?.root;
    await d?.stop();
    if (root) await killProcessesUnder(root); // pooled VMs outlive the daemon by design
    await rm(tmp, { recursive: true, force: true });
  });

  test('hyperctl info shows the hyper handler and its accelerator', async () => {
    const r = await hyperctl(['info']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /hyper/);
    assert.match(r.out, /tcg|kvm/);
  });

  test('hyperctl run -d busybox sleep 1000 reaches running; exec shows the guest kernel', async () => {
    const r = await hyperctl(['run', '-d', '--name', 'sleeper', d.busyboxRef, 'sleep', '1000']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /Time to run a POD is \d+ ms/);
    pod = /POD id is (\S+)/.exec(r.out)?.[1] ?? '';
    assert.ok(pod, r.out);
    const list = await hyperctl(['list']);
    assert.match(list.out, /sleeper\s.*running/);
    const u = await hyperctl(['exec', pod, 'uname', '-r']);
    assert.equal(u.code, 0, u.err);
    assert.equal(u.out.trim(), guest.kernelVersion);
    assert.notEqual(u.out.trim(), release());
  });

  test('hyperctl exec -t POD sh is an interactive shell (through tmux)', async () => {
    await execFile([
      'tmux',
      'new-session',
      '-d',
      '-s',
      tmuxSession,
      '-x',
      '120',
      '-y',
      '30',
      `${process.execPath} ${hyperctlBin} --host ${d.endpoint} exec -t ${pod} sh`,
    ]);
    const pane = async () =>
      (await execFile(['tmux', 'capture-pane', '-p', '-t', tmuxSession], { check: false })).stdout;
    await waitFor(async () => /[#$] ?$/m.test(await pane()), {
      timeoutMs: 120_000,
      description: 'the shell prompt',
    });
    await execFile(['tmux', 'send-keys', '-t', tmuxSession, 'echo answer-$((6*7)); stty size', 'Enter']);
    await waitFor(async () => /answer-42/.test(await pane()), {
      timeoutMs: 60_000,
      description: 'the shell to answer',
    });
    // The terminal size follows tmux's pane (30 rows less its status line).
    await waitFor(async () => /^(29|30) 120\s*$/m.test(await pane()), {
      timeoutMs: 60_000,
      description: 'stty size',
    });
    await execFile(['tmux', 'send-keys', '-t', tmuxSession, 'exit', 'Enter']);
  });

  test('a two-container pod shares localhost but not filesystems', async () => {
    const podfile = join(tmp, 'two.json');
    await writeFile(
      podfile,
      JSON.stringify({
        id: 'two',
        containers: [
          {
            name: 'web',
            image: d.busyboxRef,
            entrypoint: [
              'sh',
              '-c',
              'mkdir -p /www && echo from-web > /www/index.html && touch /only-web && exec httpd -f -p 8080 -h /www',
            ],
          },
          { name: 'client', image: d.busyboxRef, entrypoint: ['sleep', '1000'] },
        ],
      }),
    );
    const r = await hyperctl(['run', '-d', '-p', podfile]);
    assert.equal(r.code, 0, r.err + r.out);
    const got = await waitFor(
      async () => {
        const x = await hyperctl(['exec', 'client', 'wget', '-qO-', 'http://127.0.0.1:8080/']);
        return x.code === 0 ? x.out : undefined;
      },
      { timeoutMs: 120_000, description: 'web to answer the client on localhost' },
    );
    assert.equal(got.trim(), 'from-web');
    assert.equal((await hyperctl(['exec', 'web', 'test', '-e', '/only-web'])).code, 0);
    assert.equal((await hyperctl(['exec', 'client', 'test', '-e', '/only-web'])).code, 1);
  });

  test('bad input gets clear errors and the daemon keeps serving', async () => {
    const unknown = await hyperctl(['run', '-d', `${d.registry.host}/no/such-image:v1`, 'true']);
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.err, /not found|NotFound|no such/i);
    const badFile = join(tmp, 'bad.json');
    await writeFile(badFile, '{"containers": [{"image": 42}]');
    const bad = await hyperctl(['run', '-d', '-p', badFile]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.err, /pod ?file|podfile|invalid|JSON/i);
    const huge = await hyperctl(['run', '-d', '--memory', '100000000', d.busyboxRef, 'true']);
    assert.notEqual(huge.code, 0);
    assert.match(huge.err, /memory/i);
    const missing = await hyperctl(['exec', pod, 'no-such-command']);
    assert.equal(missing.code, 127);
    assert.match(missing.err, /not found/);
    const ok = await hyperctl(['exec', pod, 'echo', 'still-serving']);
    assert.equal(ok.out.trim(), 'still-serving');
  });

  test('after kill -9 of the daemon, pods are listed, exec works and logs continue', async () => {
    const r = await hyperctl([
      'run',
      '-d',
      '--name',
      'ticker',
      d.busyboxRef,
      'sh',
      '-c',
      'i=0; while true; do i=$((i+1)); echo tick-$i; sleep 0.5; done',
    ]);
    assert.equal(r.code, 0, r.err);
    await waitFor(async () => /tick-2\b/.test((await hyperctl(['logs', 'ticker'])).out), {
      timeoutMs: 120_000,
      description: 'ticks',
    });
    await d.kill9();
    await d.restart();
    const list = await hyperctl(['list']);
    assert.match(list.out, /sleeper\s.*running/);
    assert.match(list.out, /ticker\s.*running/);
    const e = await hyperctl(['exec', pod, 'echo', 'after-restart']);
    assert.equal(e.out.trim(), 'after-restart', e.err);
    const count = async () =>
      [...(await hyperctl(['logs', 'ticker'])).out.matchAll(/tick-(\d+)/g)].map((m) => Number(m[1]));
    const before = (await count()).length;
    await waitFor(async () => (await count()).length > before + 3, {
      timeoutMs: 120_000,
      description: 'logs to continue after the restart',
    });
    const ticks = await count();
    for (let i = 1; i < ticks.length; i++)
      assert.ok((ticks[i] as number) <= (ticks[i - 1] as number) + 1, `no gap: ${ticks.join(',')}`);
  });
});
