/**
 * The real `hyperctl` binary against a real `h8s runtime` (child process) with the runc handler
 * only and `hyper` as the default handler (so it is unavailable): run/list/exec/logs/stop/start/
 * rm/info, pod files, routing of privileged pods, an interactive `exec -t` driven through tmux,
 * and the bad inputs a user hits (unknown image, malformed pod file, missing command, daemon
 * not running).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { execFile, waitFor } from '../../src/lib/index.js';
import { hyperctlBin, runHyperctl } from './helpers/hyperctl.js';
import { repoRoot, startTestRuntime, type TestRuntime } from '../../src/runtime/testing/test-runtime.js';

describe('hyperctl with the runc handler', { timeout: 900_000 }, () => {
  let d: TestRuntime;
  let tmp = '';
  const tmuxSession = `h8s-hyperctl-runc-${process.pid}`;

  const hyperctl = (...args: string[]) => runHyperctl(d.endpoint, args, { home: tmp });

  before(async () => {
    tmp = await mkdtemp('/tmp/h8s-hyperctl-runc-');
    d = await startTestRuntime({
      handlers: ['runc'],
      childProcess: true,
      extraArgs: ['--default-handler', 'hyper'],
    });
  });

  after(async () => {
    await execFile(['tmux', 'kill-session', '-t', tmuxSession], { check: false });
    if (process.exitCode) console.error(`runtime root: ${d?.root}\n${d?.logs().slice(-6000)}`);
    await d?.stop();
    await rm(tmp, { recursive: true, force: true });
  });

  it('reports the handlers and images', async () => {
    const info = await hyperctl('info');
    assert.equal(info.code, 0, info.err);
    assert.match(info.out, /runc: available/);
    assert.match(info.out, /hyper: unavailable \(disabled by configuration/);
    assert.match(info.out, new RegExp(`Hyper Root Dir: ${d.root}`));
    const images = await hyperctl('images');
    assert.match(images.out, /busybox\s+latest/);
  });

  it('runs a detached pod, lists it with its runtime, execs and reads its logs', async () => {
    const run = await hyperctl(
      'run',
      '-d',
      '--runtime',
      'runc',
      '--name',
      'web',
      d.busyboxRef,
      'sh',
      '-c',
      'echo started; exec sleep 1000',
    );
    assert.equal(run.code, 0, run.err);
    assert.match(run.out, /^POD id is [0-9a-f]{64}\nTime to run a POD is \d+ ms\n$/);
    const list = await hyperctl('list');
    assert.match(list.out, /^POD ID\s+POD Name\s+VM name\s+Status\s+Runtime\n/);
    assert.match(list.out, /\n[0-9a-f]{12}\s+web\s+running\s+runc\n/);
    const quiet = await hyperctl('list', '-q');
    assert.match(quiet.out, /^[0-9a-f]{12}\n$/);
    const containers = await hyperctl('list', 'container');
    assert.match(containers.out, /[0-9a-f]{12}\s+web\s+[0-9a-f]{12}\s+running\s+runc/);
    const exec = await hyperctl('exec', 'web', 'sh', '-c', 'echo in-pod $(hostname); exit 7');
    assert.equal(exec.code, 7);
    assert.equal(exec.out, 'in-pod web\n');
    const piped = await execFile(
      [
        'sh',
        '-c',
        `echo piped-input | ${process.execPath} ${hyperctlBin} --host ${d.endpoint} exec -i web cat`,
      ],
      { check: false, timeoutMs: 120_000, cwd: repoRoot },
    );
    assert.equal(piped.stdout, 'piped-input\n');
    const logs = await hyperctl('logs', 'web');
    assert.equal(logs.out, 'started\n');
    const ts = await hyperctl('logs', '-t', '--tail', '1', 'web');
    assert.match(ts.out, /^\d{4}-\d\d-\d\dT\S+Z started\n$/);
  });

  it('runs attached, passes the exit code through and removes the pod with --rm', async () => {
    const r = await hyperctl(
      'run',
      '--rm',
      '--runtime',
      'runc',
      '--name',
      'once',
      d.busyboxRef,
      'sh',
      '-c',
      'echo out; echo err >&2; exit 5',
    );
    assert.equal(r.code, 5);
    assert.equal(r.out, 'out\n');
    assert.match(r.err, /^err$/m);
    assert.doesNotMatch((await hyperctl('list')).out, /once/);
  });

  it('reports a missing command with exit code 127 and an unknown image clearly', async () => {
    const missing = await hyperctl('run', '--rm', '--runtime', 'runc', d.busyboxRef, '/no/such/binary');
    assert.equal(missing.code, 127);
    assert.match(missing.err, /no such file or directory/);
    const unknown = await hyperctl('run', '-d', '--runtime', 'runc', `${d.registry.host}/does-not-exist:v9`);
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /hyperctl run: .*does-not-exist/);
  });

  it('routes privileged pods to runc and refuses them on hyper', async () => {
    const priv = await hyperctl('run', '-d', '--privileged', '--name', 'priv', d.busyboxRef, 'sleep', '1000');
    assert.equal(priv.code, 0, priv.err);
    assert.match((await hyperctl('list')).out, /priv\s+running\s+runc/);
    const caps = await hyperctl('exec', 'priv', 'sh', '-c', 'grep CapEff /proc/self/status');
    const own = /CapBnd:\s*([0-9a-f]+)/.exec(await readFile('/proc/self/status', 'utf8'))?.[1];
    assert.equal(
      /CapEff:\s*([0-9a-f]+)/.exec(caps.out)?.[1],
      own,
      'a privileged container holds every capability the runtime has',
    );
    const hyper = await hyperctl('run', '-d', '--runtime', 'hyper', '--privileged', d.busyboxRef, 'true');
    assert.equal(hyper.code, 1);
    assert.match(
      hyper.err,
      /The hyper runtime handler cannot give pod .* privileged mode.*use the runc handler/,
    );
    const plain = await hyperctl('run', '-d', d.busyboxRef, 'true');
    assert.equal(plain.code, 1);
    assert.match(plain.err, /Runtime handler "hyper" is not available on this node/);
  });

  it('runs a multi-container pod from a hyperd pod file, sharing volumes', async () => {
    const shared = join(tmp, 'shared');
    await mkdir(shared);
    const podfile = join(tmp, 'pod.yaml');
    await writeFile(
      podfile,
      [
        'id: duo',
        'hostname: duo-host',
        'resource: { vcpu: 1, memory: 64 }',
        'containers:',
        '  - name: writer',
        `    image: ${d.busyboxRef}`,
        '    command: ["sh", "-c", "echo from-writer > /data/note; exec sleep 1000"]',
        '    volumes: [{ path: /data, volume: shared }]',
        '  - name: reader',
        `    image: ${d.busyboxRef}`,
        '    entrypoint: ["sleep"]',
        '    command: ["1000"]',
        '    envs: [{ env: GREETING, value: hi }]',
        '    volumes: [{ path: /data, volume: shared, readOnly: true }]',
        'volumes:',
        `  - { name: shared, source: ${shared}, format: vfs }`,
        '',
      ].join('\n'),
    );
    const r = await hyperctl('run', '-d', '--runtime', 'runc', '-p', podfile);
    assert.equal(r.code, 0, r.err);
    await waitFor(
      async () => (await readFile(join(shared, 'note'), 'utf8').catch(() => '')) === 'from-writer\n',
      {
        timeoutMs: 30_000,
      },
    );
    const read = await hyperctl('exec', 'reader', 'sh', '-c', 'cat /data/note; echo $GREETING $(hostname)');
    assert.equal(read.out, 'from-writer\nhi duo-host\n');
    assert.notEqual(
      (await hyperctl('exec', 'reader', 'sh', '-c', 'echo x > /data/y')).code,
      0,
      'read-only for the reader',
    );
    const containers = await hyperctl('list', 'container');
    assert.match(containers.out, /writer/);
    assert.match(containers.out, /reader/);
  });

  it('refuses a malformed pod file naming the field', async () => {
    const bad = join(tmp, 'bad.json');
    await writeFile(
      bad,
      JSON.stringify({ id: 'bad', containers: [{ name: 'x', image: 'busybox', envs: [{ env: 'A' }] }] }),
    );
    const r = await hyperctl('run', '-d', '-p', bad);
    assert.equal(r.code, 1);
    assert.match(r.err, /Invalid pod file ".*bad.json": containers\[0\]\.envs\[0\]/);
    const missing = await hyperctl('run', '-d', '-p', join(tmp, 'nope.yaml'));
    assert.equal(missing.code, 2);
    assert.match(missing.err, /cannot read pod file ".*nope.yaml": no such file/);
  });

  it('gives exec -t an interactive shell with a terminal', async () => {
    await execFile(
      [
        'tmux',
        'new-session',
        '-d',
        '-s',
        tmuxSession,
        '-x',
        '120',
        '-y',
        '40',
        `${process.execPath} ${hyperctlBin} --host ${d.endpoint} exec -t web sh; echo "hyperctl-exit=$?"; sleep 600`,
      ],
      { cwd: repoRoot },
    );
    const pane = async (): Promise<string> =>
      (await execFile(['tmux', 'capture-pane', '-p', '-t', tmuxSession], { check: false })).stdout;
    await waitFor(async () => /#\s*$/m.test(await pane()), {
      timeoutMs: 120_000,
      description: 'the shell prompt',
    }).catch(async (err: unknown) => {
      throw new Error(`no prompt; the pane shows:\n${await pane()}`, { cause: err });
    });
    await execFile(['tmux', 'send-keys', '-t', tmuxSession, 'echo $((6*7)); stty size; tty', 'Enter']);
    await waitFor(async () => /^42\s*$/m.test(await pane()), {
      timeoutMs: 30_000,
      description: 'the answer',
    });
    const screen = await pane();
    assert.match(screen, /^40 120\s*$/m, screen);
    assert.match(screen, /\/dev\/pts\/\d+/);
    await execFile(['tmux', 'send-keys', '-t', tmuxSession, 'exit 4', 'Enter']);
    await waitFor(async () => /hyperctl-exit=4/.test(await pane()), {
      timeoutMs: 30_000,
      description: 'the exit code',
    });
  });

  it('runs a pod with a terminal attached, losing none of its first output', async () => {
    const session = `${tmuxSession}-run`;
    await execFile(
      [
        'tmux',
        'new-session',
        '-d',
        '-s',
        session,
        '-x',
        '100',
        '-y',
        '30',
        `${process.execPath} ${hyperctlBin} --host ${d.endpoint} run -t --rm --runtime runc ${d.busyboxRef} sh -c 'echo first-words; read answer; echo "you said $answer"; exit 6'; echo "run-exit=$?"; sleep 600`,
      ],
      { cwd: repoRoot },
    );
    const pane = async (): Promise<string> =>
      (await execFile(['tmux', 'capture-pane', '-p', '-t', session], { check: false })).stdout;
    try {
      await waitFor(async () => /first-words/.test(await pane()), {
        timeoutMs: 120_000,
        description: 'the first output',
      });
      await execFile(['tmux', 'send-keys', '-t', session, 'yes', 'Enter']);
      await waitFor(async () => /run-exit=6/.test(await pane()), {
        timeoutMs: 60_000,
        description: 'the exit code',
      });
      assert.match(await pane(), /you said yes/);
    } finally {
      await execFile(['tmux', 'kill-session', '-t', session], { check: false });
    }
  });

  it('stops, starts again and removes pods', async () => {
    const stop = await hyperctl('stop', '-t', '1', 'web');
    assert.equal(stop.code, 0, stop.err);
    assert.match((await hyperctl('list')).out, /web\s+stopped\s+runc/);
    const start = await hyperctl('start', 'web');
    assert.equal(start.code, 0, start.err);
    assert.match((await hyperctl('list')).out, /web\s+running\s+runc/);
    const refused = await hyperctl('rm', 'web');
    assert.equal(refused.code, 1);
    assert.match(refused.err, /pod "web" is running: stop it first or use rm -f/);
    const removed = await hyperctl('rm', '-f', 'web', 'duo', 'priv');
    assert.equal(removed.code, 0, removed.err);
    assert.equal((await hyperctl('list', '-q')).out, '');
  });

  it('says clearly when no daemon listens', async () => {
    const r = await execFile([process.execPath, hyperctlBin, '--host', `unix://${tmp}/no.sock`, 'list'], {
      check: false,
      cwd: repoRoot,
    });
    assert.equal(r.exitCode, 1);
    assert.match(
      r.stderr,
      /Cannot reach the h8s runtime at unix:\/\/.*no\.sock: the socket does not exist; is "h8s runtime" running\?/,
    );
  });
});
