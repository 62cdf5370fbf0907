import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { errorCode } from '../../lib/index.js';
import { HyperctlUsageError, flagValues, parseCommandLine, hyperdTable } from './hyperctl-io.js';
import { parsePodfile, planFromPodfile } from './podfile.js';
import { hyperctlMain } from './hyperctl.js';
import type { HyperctlIO } from './hyperctl-io.js';

function memoryIo(): { io: HyperctlIO; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    io: {
      stdout: { write: (c: string | Uint8Array) => (out += c.toString()) },
      stderr: { write: (c: string) => (err += c) },
      isTTY: false,
      authConfigPath: '/nonexistent/config.json',
    },
    out: () => out,
    err: () => err,
  };
}

describe('hyperctl command line', () => {
  it('stops at the first positional so the command keeps its own flags', () => {
    const p = parseCommandLine(['-dt', '--env', 'A=1', '-e', 'B=2', '-v/a:/b', 'busybox', 'ls', '-l'], {
      detach: { short: 'd' },
      tty: { short: 't' },
      env: { short: 'e', value: true, repeat: true },
      volume: { short: 'v', value: true, repeat: true },
    });
    assert.ok(p.flags.has('detach') && p.flags.has('tty'));
    assert.deepEqual(flagValues(p, 'env'), ['A=1', 'B=2']);
    assert.deepEqual(flagValues(p, 'volume'), ['/a:/b']);
    assert.deepEqual(p.args, ['busybox', 'ls', '-l']);
  });

  it('names an unknown flag', () => {
    assert.throws(
      () => parseCommandLine(['--nope'], {}),
      (e: unknown) => e instanceof HyperctlUsageError && /--nope/.test((e as Error).message),
    );
  });

  it('prints tables with hyperd spacing', () => {
    assert.equal(
      hyperdTable([
        ['POD ID', 'Status'],
        ['abc', 'running'],
      ]),
      `POD ID${' '.repeat(14)}Status\nabc${' '.repeat(17)}running\n`,
    );
  });

  it('says clearly when the daemon is not running', async () => {
    const { io, err } = memoryIo();
    const code = await hyperctlMain(['--host', 'unix:///tmp/h8s-no-such-dir/rt.sock', 'list'], io);
    assert.equal(code, 1);
    assert.match(
      err(),
      /hyperctl list: Cannot reach the h8s runtime at unix:\/\/\/tmp\/h8s-no-such-dir\/rt.sock: the socket does not exist; is "h8s runtime" running\?/,
    );
  });

  it('refuses an unknown command and a bad host', async () => {
    const a = memoryIo();
    assert.equal(await hyperctlMain(['fly'], a.io), 2);
    assert.match(a.err(), /unknown command "fly"/);
    const b = memoryIo();
    assert.equal(await hyperctlMain(['--host', 'tcp://1.2.3.4:1', 'list'], b.io), 2);
    assert.match(b.err(), /Invalid runtime endpoint "tcp:\/\/1.2.3.4:1"/);
  });
});

describe('hyperd pod files', () => {
  const good = {
    id: 'web',
    hostname: 'web-host',
    resource: { vcpu: 2, memory: 256 },
    containers: [
      {
        name: 'app',
        image: 'busybox',
        entrypoint: ['sh'],
        command: ['-c', 'echo hi'],
        envs: [{ env: 'A', value: '1' }],
        workdir: '/srv',
        tty: true,
        volumes: [{ path: '/data', volume: 'd', readOnly: true }],
      },
      { image: 'busybox', command: ['sleep', '10'] },
    ],
    volumes: [{ name: 'd', source: '/srv/data', format: 'vfs' }],
  };

  it('maps a pod file to sandbox and container configs', () => {
    const plan = planFromPodfile(parsePodfile(JSON.stringify(good), 'web.json'), {
      name: 'x',
      uid: 'u',
      namespace: 'n',
    });
    assert.equal(plan.sandbox.metadata.name, 'web');
    assert.deepEqual(plan.sandbox.resources, { cpuMillis: 2000, memoryBytes: 256 * 1024 * 1024 });
    const [app, second] = plan.containers;
    assert.deepEqual(app?.command, ['sh']);
    assert.deepEqual(app?.args, ['-c', 'echo hi']);
    assert.deepEqual(app?.mounts, [{ containerPath: '/data', hostPath: '/srv/data', readonly: true }]);
    assert.equal(app?.tty, true);
    assert.equal(second?.metadata.name, 'web-1');
  });

  it('reads YAML too', () => {
    const plan = planFromPodfile(parsePodfile('id: y\ncontainers:\n  - image: busybox\n', 'y.yaml'), {
      name: 'x',
      uid: 'u',
      namespace: 'n',
    });
    assert.equal(plan.containers[0]?.image, 'busybox');
  });

  it('names the field that is wrong', () => {
    const bad = (doc: unknown, re: RegExp) =>
      assert.throws(
        () => parsePodfile(typeof doc === 'string' ? doc : JSON.stringify(doc), 'p.json'),
        (e: unknown) => errorCode(e) === 'Invalid' && re.test((e as Error).message),
      );
    bad({ containers: [{ name: 'a' }] }, /containers\[0\]/);
    bad({ containers: [] }, /containers/);
    bad(
      { containers: [{ image: 'b', volumes: [{ path: '/x', volume: 'nope' }] }] },
      /no pod volume named "nope"/,
    );
    bad({ containers: [{ image: 'b' }], resource: { memory: 'lots' } }, /resource\.memory/);
    bad({ containers: [{ image: 'b' }], services: [] }, /services/);
    bad('{ not json', /Invalid pod file "p.json"/);
  });
});
