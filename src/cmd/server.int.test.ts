import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from '../lib/index.js';

const bin = new URL('../../bin/h8s.js', import.meta.url).pathname;

describe('h8s server command line', () => {
  it('prints the resolved configuration with --print-config', async () => {
    const r = await execFile(
      [process.execPath, bin, 'server', '--print-config', '--data-dir', '/tmp/h8s-x', '--port', '7443'],
      {
        extraEnv: { H8S_LOG_LEVEL: 'warn' },
      },
    );
    assert.match(r.stdout, /^data-dir: \/tmp\/h8s-x$/m);
    assert.match(r.stdout, /^datastore: sqlite:\/\/\/tmp\/h8s-x\/server\/db\/state\.db$/m);
    assert.match(r.stdout, /^port: 7443$/m);
    assert.match(r.stdout, /^log-level: warn$/m);
  });

  it('masks datastore passwords in --print-config', async () => {
    const r = await execFile([
      process.execPath,
      bin,
      'server',
      '--print-config',
      '--datastore',
      'etcd://user:secret@10.0.0.1:2379',
    ]);
    assert.ok(!r.stdout.includes('secret'));
    assert.match(r.stdout, /datastore: etcd:\/\/\*\*\*@10\.0\.0\.1:2379/);
  });

  it('exits 2 with a message naming a bad flag', async () => {
    const r = await execFile([process.execPath, bin, 'server', '--frobnicate', '1'], { check: false });
    assert.equal(r.exitCode, 2);
    assert.match(r.stderr, /h8s server: Unknown flag --frobnicate/);
  });

  it('exits 2 naming a bad service CIDR or node port range', async () => {
    const cidr = await execFile([process.execPath, bin, 'server', '--service-cidr', '10.43.0.0/33'], {
      check: false,
    });
    assert.equal(cidr.exitCode, 2);
    assert.match(cidr.stderr, /h8s server: Invalid service CIDR "10\.43\.0\.0\/33"/);
    const ports = await execFile([process.execPath, bin, 'server', '--service-node-port-range', '30000'], {
      check: false,
    });
    assert.equal(ports.exitCode, 2);
    assert.match(ports.stderr, /h8s server: Invalid node port range "30000": expected FIRST-LAST/);
  });

  it('prints a kubeconfig error naming the missing file', async () => {
    const r = await execFile([process.execPath, bin, 'kubeconfig', '--data-dir', '/nonexistent-h8s'], {
      check: false,
    });
    assert.equal(r.exitCode, 1);
    assert.match(r.stderr, /no admin kubeconfig at "\/nonexistent-h8s\/kubeconfig\.yaml"/);
  });
});
