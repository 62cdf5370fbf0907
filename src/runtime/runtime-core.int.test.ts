import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errorCode, execFile, waitFor } from '../lib/index.js';
import { pushBusybox } from '../images/testing/index.js';
import { repoRoot, startTestRuntime, type TestRuntime } from './testing/test-runtime.js';

describe('runtime core', () => {
  let d: TestRuntime;

  before(async () => {
    d = await startTestRuntime({ handlers: ['runc'] });
  });

  after(async () => {
    if (process.exitCode) console.error(`runtime root: ${d?.root}\n${d?.logs().slice(-3000)}`);
    await d?.stop();
  });

  it('keeps an image in use from being removed until its container is gone', async () => {
    // its own image (a config of its own), so the tag removed is the image's last
    const { ref } = await pushBusybox(d.registry.host, 'retained:v1', {
      config: { cmd: ['sh'], env: ['RETAIN=1'] },
    });
    await d.client.images.pullImage(ref);
    const pod = await d.client.runPodSandbox(
      { metadata: { name: 'keep', uid: 'k', namespace: 'core', attempt: 0 } },
      'runc',
    );
    const c = await d.client.createContainer(pod, {
      metadata: { name: 'c', attempt: 0 },
      image: ref,
      command: ['true'],
    });
    await assert.rejects(d.client.images.removeImage(ref), (e: unknown) => errorCode(e) === 'Conflict');
    await d.client.removeContainer(c);
    await d.client.images.removeImage(ref);
    assert.equal(await d.client.images.findImage(ref), undefined);
    await d.client.removePodSandbox(pod);
  });

  it('resolves unique id prefixes and refuses ambiguous or short ones', async () => {
    const pod = await d.client.runPodSandbox(
      { metadata: { name: 'ids', uid: 'i', namespace: 'core', attempt: 0 } },
      'runc',
    );
    assert.equal((await d.client.podSandboxStatus(pod.slice(0, 8))).id, pod);
    await assert.rejects(
      d.client.podSandboxStatus(pod.slice(0, 3)),
      (e: unknown) => errorCode(e) === 'Invalid',
    );
    await assert.rejects(d.client.podSandboxStatus('not-an-id'), (e: unknown) => errorCode(e) === 'NotFound');
    await d.client.removePodSandbox(pod);
  });

  it('restarts with a corrupt state file moved aside and the other objects kept', async () => {
    const pod = await d.client.runPodSandbox(
      { metadata: { name: 'keep-me', uid: 'km', namespace: 'core', attempt: 0 } },
      'runc',
    );
    const c = await d.client.createContainer(pod, {
      metadata: { name: 'c', attempt: 0 },
      image: d.busyboxRef,
      command: ['sleep', '1000'],
    });
    await d.client.startContainer(c);
    await writeFile(join(d.root, 'state', 'containers', `${'e'.repeat(64)}.json`), '{"half": ');
    await d.restart();
    const files = await readdir(join(d.root, 'state', 'containers'));
    assert.ok(files.includes(`${'e'.repeat(64)}.json.corrupt`));
    assert.equal((await d.client.containerStatus(c)).state, 'CONTAINER_RUNNING');
    const r = await d.client.execSync(c, ['echo', 'still here'], 30);
    assert.equal(Buffer.from(r.stdout).toString(), 'still here\n');
    await d.client.stopContainer(c, 0);
    await waitFor(async () => (await d.client.containerStatus(c)).state === 'CONTAINER_EXITED', {
      timeoutMs: 30_000,
    });
    await d.client.removePodSandbox(pod);
  });

  it('refuses a second daemon on the same root', async () => {
    const other = await startTestRuntime({ handlers: ['runc'], childProcess: true, pullBusybox: false });
    try {
      const r = await execFile(
        [
          process.execPath,
          join(repoRoot, 'bin', 'h8s.js'),
          'runtime',
          '--root',
          other.root,
          '--listen',
          `unix://${d.root}/second.sock`,
          '--handlers',
          'runc',
        ],
        { check: false, timeoutMs: 120_000, cwd: repoRoot },
      );
      assert.equal(r.exitCode, 1);
      assert.match(r.stderr, /Another runtime daemon \(pid \d+\) already uses the root/);
    } finally {
      await other.stop();
    }
  });
});
