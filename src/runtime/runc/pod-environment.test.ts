import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemExec, type Exec, type ExecResult } from '../../lib/index.js';
import { unmount, unmountAll } from '../host-mounts.js';
import { setupPodEnvironment, teardownPodEnvironment } from './pod-environment.js';

const ok = (exitCode = 0): ExecResult => ({
  stdout: '',
  stderr: '',
  exitCode,
  exitSignal: null,
  stdoutBytes: Buffer.alloc(0),
  durationMs: 0,
});

/** An Exec that records every command and answers with `exitCode`; nothing runs. */
function recordingExec(exitCode = 0): { exec: Exec; calls: string[][] } {
  const calls: string[][] = [];
  return {
    calls,
    exec: {
      spawnProcess: systemExec.spawnProcess,
      async execFile(argv) {
        calls.push([...argv]);
        return ok(exitCode);
      },
    },
  };
}

describe('pod environment and host mounts (the injected Exec)', () => {
  it('asks the shim for the pod namespaces and a size-capped shm, and writes the pod files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'h8s-podenv-'));
    try {
      const { exec, calls } = recordingExec();
      const env = await setupPodEnvironment(
        dir,
        {
          metadata: { name: 'Web_1', uid: 'u', namespace: 'n', attempt: 0 },
          network: { interfaces: [{ name: 'eth0', addresses: ['10.1.0.7/24'] }], routes: [] },
          dnsConfig: { servers: ['10.43.0.10'], searches: ['n.svc.cluster.local'], options: ['ndots:5'] },
        },
        '/opt/shim',
        'host-a',
        exec,
      );
      assert.deepEqual(calls, [
        [
          '/opt/shim',
          'netns',
          '--net',
          join(dir, 'ns', 'net'),
          '--uts',
          join(dir, 'ns', 'uts'),
          '--hostname',
          'web-1',
          '--ipc',
          join(dir, 'ns', 'ipc'),
          '--shm',
          join(dir, 'shm'),
          '--shm-size',
          String(64 * 1024 * 1024),
        ],
      ]);
      assert.equal(env.hostname, 'web-1');
      assert.match(await readFile(env.files.hosts, 'utf8'), /^10\.1\.0\.7\tweb-1$/m);
      assert.equal(
        await readFile(env.files.resolvConf, 'utf8'),
        'search n.svc.cluster.local\nnameserver 10.43.0.10\noptions ndots:5\n',
      );
      assert.equal(await readFile(env.files.hostname, 'utf8'), 'web-1\n');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('starts no shim for a host-network pod and copies the host files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'h8s-podenv-'));
    try {
      const { exec, calls } = recordingExec();
      const env = await setupPodEnvironment(
        dir,
        {
          metadata: { name: 'agent', uid: 'u', namespace: 'n', attempt: 0 },
          security: { hostNetwork: true, hostIpc: true },
        },
        '/opt/shim',
        'host-a',
        exec,
      );
      assert.deepEqual(calls, []);
      assert.equal(await readFile(env.files.hostname, 'utf8'), 'host-a\n');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('unmounts nothing that is not mounted, and tears down an environment whose mounts are gone', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'h8s-podenv-'));
    try {
      const { exec, calls } = recordingExec(32);
      // umount fails (exit 32), but the path is no mount point: no lazy unmount follows
      await unmount(join(dir, 'never-mounted'), exec);
      assert.deepEqual(calls, [['umount', join(dir, 'never-mounted')]]);
      calls.length = 0;
      await unmountAll(dir, exec);
      await teardownPodEnvironment(dir, exec);
      assert.deepEqual(calls, [], 'nothing below the directory is mounted, so nothing runs');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
