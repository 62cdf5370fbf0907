/**
 * hyperctl's image commands through the runtime daemon's socket (the image half of the runtime
 * API): pull with progress and credentials from `hyperctl login`, images, save to a tarball
 * streamed out of the daemon, rmi (refused while a container uses the image), and load of a
 * tarball streamed into it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { execFile } from '../../src/lib/index.js';
import { pushBusybox, startTestRegistry, type TestRegistry } from '../../src/images/testing/index.js';
import { runHyperctl } from './helpers/hyperctl.js';
import { startTestRuntime, type TestRuntime } from '../../src/runtime/testing/test-runtime.js';

describe('hyperctl image commands through the daemon', { timeout: 600_000 }, () => {
  let d: TestRuntime;
  let authReg: TestRegistry;
  let tmp = '';

  const hyperctl = (...args: string[]) => runHyperctl(d.endpoint, args, { home: tmp });

  before(async () => {
    tmp = await mkdtemp('/tmp/h8s-hyperctl-images-');
    d = await startTestRuntime({ handlers: ['runc'], childProcess: true, pullBusybox: false });
    authReg = await startTestRegistry({ auth: 'htpasswd' });
  });

  after(async () => {
    if (process.exitCode) console.error(`runtime root: ${d?.root}\n${d?.logs().slice(-4000)}`);
    await d?.stop();
    await authReg?.stop();
    await rm(tmp, { recursive: true, force: true });
  });

  it('pulls, lists, saves, refuses to remove an image in use, removes and loads it back', async () => {
    const { ref } = await pushBusybox(d.registry.host, 'tools/busybox:1.0');
    const pull = await hyperctl('pull', ref);
    assert.equal(pull.code, 0, pull.err);
    assert.match(pull.out, /Pull complete|Already exists|Downloaded/i);
    assert.match((await hyperctl('images')).out, /tools\/busybox\s+1\.0/);

    const tar = join(tmp, 'busybox.tar');
    const save = await hyperctl('save', '-o', tar, ref);
    assert.equal(save.code, 0, save.err);
    assert.ok((await stat(tar)).size > 1_000_000);

    const run = await hyperctl('run', '-d', '--runtime', 'runc', '--name', 'user', ref, 'sleep', '1000');
    assert.equal(run.code, 0, run.err);
    const inUse = await hyperctl('rmi', ref);
    assert.equal(inUse.code, 1);
    assert.match(inUse.err, /in use/);
    assert.equal((await hyperctl('rm', '-f', 'user')).code, 0);

    const rmi = await hyperctl('rmi', ref);
    assert.equal(rmi.code, 0, rmi.err);
    assert.doesNotMatch((await hyperctl('images')).out, /tools\/busybox/);

    const load = await hyperctl('load', '-i', tar);
    assert.equal(load.code, 0, load.err);
    assert.match(load.out, /Loaded image: .*tools\/busybox:1\.0/);
    assert.match((await hyperctl('images')).out, /tools\/busybox\s+1\.0/);
    const again = await hyperctl('run', '--rm', '--runtime', 'runc', ref, 'echo', 'from-loaded');
    assert.equal(again.out, 'from-loaded\n');
  });

  it('pulls from a registry with the credentials hyperctl login stored', async () => {
    const { ref } = await pushBusybox(authReg.host, 'private/busybox:v1', {
      auth: { username: authReg.username, password: authReg.password },
    });
    const denied = await hyperctl('pull', ref);
    assert.equal(denied.code, 1);
    const login = await hyperctl('login', '-u', authReg.username, '-p', authReg.password, authReg.host);
    assert.equal(login.code, 0, login.err);
    const pull = await hyperctl('pull', ref);
    assert.equal(pull.code, 0, pull.err);
    const logout = await hyperctl('logout', authReg.host);
    assert.equal(logout.code, 0, logout.err);
  });

  it('refuses a tarball that is not an image', async () => {
    const junk = join(tmp, 'junk.tar');
    await execFile(['sh', '-c', `head -c 10000 /dev/urandom > ${junk}`]);
    const load = await hyperctl('load', '-i', junk);
    assert.equal(load.code, 1);
    assert.match(load.err, /^hyperctl load: /);
    assert.equal((await hyperctl('info')).code, 0, 'the daemon still serves');
  });
});
