/**
 * The runtime API conformance suite: the same tests, with the same expected semantics, for
 * every runtime handler (`hyper` and `runc`), driven through a `NodeRuntime` (normally a
 * `RuntimeClient` talking to a real daemon, so the API and streams are covered too).
 *
 *   runRuntimeConformance('runc', async () => {
 *     const d = await startTestRuntime({ handlers: ['runc'] });     // runtime/testing
 *     return { runtime: d.client, handler: 'runc', image: d.busyboxRef, cleanup: () => d.stop() };
 *   });
 *
 * The image must be a busybox image already pulled into the runtime (images/testing's
 * `pushBusybox` builds one). Semantics pinned here, for both handlers:
 * - a command that does not exist: start succeeds, the container exits 127
 *   (reason ContainerCannotRun); execSync of one returns exit code 127;
 * - stopContainer sends the stop signal, waits the grace period, then SIGKILL (exit 137);
 * - removing a running container or a ready sandbox stops it first; removing twice is fine;
 * - containers of one pod share the network namespace (localhost) but not filesystems;
 * - attach delivers stdin and output and ends with the container's exit code; portForward
 *   reaches 127.0.0.1:PORT inside the pod;
 * - a container killed by the OOM killer at its memory limit is reported as OOMKilled;
 * - bad configs are Invalid (or NotFound for a missing image or sandbox).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errorCode, waitFor } from '../../lib/index.js';
import { collectBytes } from '../byte-channel.js';
import { writeGeneration } from './atomic-volume.js';
import type {
  ContainerConfig,
  ContainerStatus,
  NodeRuntime,
  PodSandboxConfig,
  RuntimeHandlerName,
} from '../runtime-service.js';

export interface ConformanceEnv {
  readonly runtime: NodeRuntime;
  readonly handler: RuntimeHandlerName;
  /** A pulled busybox image reference. */
  readonly image: string;
  /** Extra sandbox settings the handler needs here (e.g. a VM size); merged into every sandbox. */
  readonly sandboxDefaults?: Partial<PodSandboxConfig>;
  /** Upper bound for one container to start and run a trivial command. Default 60 s. */
  readonly startTimeoutMs?: number;
  cleanup(): Promise<void>;
}

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.equal(errorCode(err), code, `expected ${code}, got ${String(err)}`);
    return true;
  });
}

/** Registers the suite under `describe(name)`. */
export function runRuntimeConformance(name: string, setup: () => Promise<ConformanceEnv>): void {
  describe(`runtime conformance: ${name}`, () => {
    let env: ConformanceEnv;
    let rt: NodeRuntime;
    let pod = '';
    let n = 0;
    const tag = randomBytes(3).toString('hex');
    let timeoutMs = 60_000;

    const sandboxConfig = (podName: string, extra: Partial<PodSandboxConfig> = {}): PodSandboxConfig => ({
      ...env.sandboxDefaults,
      metadata: { name: podName, uid: `${podName}-uid`, namespace: 'conformance', attempt: 0 },
      ...extra,
    });

    const containerConfig = (extra: Partial<ContainerConfig>): ContainerConfig => ({
      metadata: { name: `c${++n}`, attempt: 0 },
      image: env.image,
      ...extra,
    });

    async function run(extra: Partial<ContainerConfig>, sandbox = pod): Promise<string> {
      const id = await rt.createContainer(sandbox, containerConfig(extra));
      await rt.startContainer(id);
      return id;
    }

    async function exited(id: string): Promise<ContainerStatus> {
      return waitFor(
        async () => {
          const s = await rt.containerStatus(id);
          return s.state === 'CONTAINER_EXITED' ? s : undefined;
        },
        { timeoutMs, description: `container ${id} to exit` },
      );
    }

    async function running(id: string): Promise<void> {
      await waitFor(async () => (await rt.containerStatus(id)).state === 'CONTAINER_RUNNING', {
        timeoutMs,
        description: `container ${id} to run`,
      });
    }

    async function logText(id: string): Promise<string> {
      let out = '';
      for await (const l of rt.containerLogs(id))
        out += Buffer.from(l.content).toString() + (l.full ? '\n' : '');
      return out;
    }

    before(async () => {
      env = await setup();
      rt = env.runtime;
      timeoutMs = env.startTimeoutMs ?? 60_000;
      pod = await rt.runPodSandbox(sandboxConfig(`conf-${tag}`, { hostname: 'conformance' }), env.handler);
    });

    after(async () => {
      // every sandbox is tried; one that cannot be removed fails the suite after the clean-up
      const failures: unknown[] = [];
      try {
        for (const s of await rt.listPodSandbox({ labelSelector: {} })) {
          if (s.metadata.namespace === 'conformance')
            await rt.removePodSandbox(s.id).catch((err: unknown) => failures.push(err));
        }
      } finally {
        await env?.cleanup();
      }
      if (failures.length) throw new AggregateError(failures, 'Conformance sandboxes were left behind');
    });

    it('runs a sandbox through its lifecycle: ready, stopped, removed', async () => {
      const id = await rt.runPodSandbox(
        sandboxConfig(`life-${tag}`, { labels: { suite: tag } }),
        env.handler,
      );
      const st = await rt.podSandboxStatus(id);
      assert.equal(st.state, 'SANDBOX_READY');
      assert.equal(st.runtimeHandler, env.handler);
      assert.equal(st.metadata.name, `life-${tag}`);
      assert.deepEqual(
        (await rt.listPodSandbox({ labelSelector: { suite: tag } })).map((s) => s.id),
        [id],
      );
      assert.equal((await rt.podSandboxStatus(id.slice(0, 12))).id, id, 'a unique id prefix is accepted');
      await rt.stopPodSandbox(id);
      assert.equal((await rt.podSandboxStatus(id)).state, 'SANDBOX_NOTREADY');
      await rt.stopPodSandbox(id);
      await rt.removePodSandbox(id);
      await expectCode(rt.podSandboxStatus(id), 'NotFound');
      await rt.removePodSandbox(id);
    });

    it('refuses a second sandbox with the same name and attempt', async () => {
      await expectCode(rt.runPodSandbox(sandboxConfig(`conf-${tag}`), env.handler), 'AlreadyExists');
    });

    it('runs a container to completion and reports its exit code and logs', async () => {
      const id = await rt.createContainer(
        pod,
        containerConfig({ command: ['sh', '-c', 'echo out; echo err >&2; exit 3'] }),
      );
      assert.equal((await rt.containerStatus(id)).state, 'CONTAINER_CREATED');
      await rt.startContainer(id);
      const st = await exited(id);
      assert.equal(st.exitCode, 3);
      assert.equal(st.reason, 'Error');
      assert.ok(st.startedAt > 0 && st.finishedAt >= st.startedAt);
      const lines: { stream: string; text: string }[] = [];
      for await (const l of rt.containerLogs(id))
        lines.push({ stream: l.stream, text: Buffer.from(l.content).toString() });
      assert.deepEqual(
        lines.sort((a, b) => a.stream.localeCompare(b.stream)),
        [
          { stream: 'stderr', text: 'err' },
          { stream: 'stdout', text: 'out' },
        ],
      );
      await expectCode(rt.startContainer(id), 'Conflict');
    });

    it('reports exit code 0 as Completed', async () => {
      const st = await exited(await run({ command: ['true'] }));
      assert.equal(st.exitCode, 0);
      assert.equal(st.reason, 'Completed');
    });

    it('reports a command that does not exist as exit code 127', async () => {
      const st = await exited(await run({ command: ['/no/such/command'] }));
      assert.equal(st.exitCode, 127);
      assert.equal(st.reason, 'ContainerCannotRun');
    });

    it('reports what the container wrote to its terminationMessagePath, at most 4,096 bytes', async () => {
      const st = await exited(
        await run({
          command: ['sh', '-c', 'printf "all done" > /dev/termination-log; exit 2'],
          terminationMessagePath: '/dev/termination-log',
        }),
      );
      assert.equal(st.exitCode, 2);
      assert.equal(st.terminationMessage, 'all done');
      const big = await exited(
        await run({
          command: ['sh', '-c', 'head -c 10000 /dev/zero | tr "\\0" x > /var/msg'],
          terminationMessagePath: '/var/msg',
        }),
      );
      assert.equal(big.terminationMessage, 'x'.repeat(4096));
      const none = await exited(
        await run({ command: ['true'], terminationMessagePath: '/dev/termination-log' }),
      );
      assert.equal(none.terminationMessage ?? '', '');
      // FallbackToLogsOnError: a failed container that wrote no message gets its log's tail
      const fallback = await run({
        command: ['sh', '-c', 'echo first; echo last-words; exit 1'],
        terminationMessagePath: '/dev/termination-log',
        terminationMessageFallbackToLogs: true,
      });
      await exited(fallback);
      const message = await waitFor(async () => (await rt.containerStatus(fallback)).terminationMessage, {
        timeoutMs: 10_000,
        description: 'the log tail as the termination message',
      });
      assert.equal(message, 'first\nlast-words');
    });

    it('reports a container killed at its memory limit as OOMKilled', async () => {
      // busybox sort holds its whole input (one 64 MB line) in memory: far over 16 MiB
      const id = await run({
        command: ['sh', '-c', 'head -c 64000000 /dev/zero | sort > /dev/null'],
        resources: { memoryLimitInBytes: 16 * 1024 * 1024 },
      });
      const st = await exited(id);
      assert.equal(st.reason, 'OOMKilled', `exit ${st.exitCode} ${st.reason} ${st.message}`);
      assert.notEqual(st.exitCode, 0);
    });

    it('applies env, working directory and user', async () => {
      const id = await run({
        command: ['sh', '-c', 'echo "$GREETING" "$(pwd)" "$(id -u)" "$(id -g)"'],
        envs: [{ key: 'GREETING', value: 'hello world' }],
        workingDir: '/tmp',
        security: { runAsUser: 65534, runAsGroup: 65534 },
      });
      await exited(id);
      assert.equal(await logText(id), 'hello world /tmp 65534 65534\n');
    });

    it('resolves a user name from the image', async () => {
      const id = await run({ command: ['id', '-u'], security: { runAsUsername: 'nobody' } });
      await exited(id);
      assert.equal(await logText(id), '65534\n');
    });

    it('runs execSync with output, stderr and the exit code', async () => {
      const id = await run({ command: ['sleep', '1000'] });
      await running(id);
      const r = await rt.execSync(id, ['sh', '-c', 'echo to-out; echo to-err >&2; exit 4'], 30);
      assert.equal(Buffer.from(r.stdout).toString(), 'to-out\n');
      assert.equal(Buffer.from(r.stderr).toString(), 'to-err\n');
      assert.equal(r.exitCode, 4);
      const missing = await rt.execSync(id, ['/no/such/command'], 30);
      assert.equal(missing.exitCode, 127);
      await rt.stopContainer(id, 0);
      await expectCode(rt.execSync(id, ['true'], 10), 'Conflict');
    });

    it('times execSync out', async () => {
      const id = await run({ command: ['sleep', '1000'] });
      await running(id);
      await expectCode(rt.execSync(id, ['sleep', '30'], 1), 'Timeout');
      await rt.stopContainer(id, 0);
    });

    it('streams exec stdin with a half-close', async () => {
      const id = await run({ command: ['sleep', '1000'] });
      await running(id);
      const s = await rt.exec(id, {
        cmd: ['sh', '-c', 'cat; echo done'],
        stdin: true,
        stdout: true,
        stderr: true,
      });
      const out = collectBytes(s.stdout);
      const err = collectBytes(s.stderr);
      await s.writeStdin(Buffer.from('line one\n'));
      await s.writeStdin(Buffer.from('line two\n'));
      await s.closeStdin();
      const [o, , code] = await Promise.all([out, err, s.exit]);
      assert.equal(o.toString(), 'line one\nline two\ndone\n');
      assert.equal(code.exitCode, 0);
      await rt.stopContainer(id, 0);
    });

    it('streams exec with a terminal and resizes it', async () => {
      const id = await run({ command: ['sleep', '1000'] });
      await running(id);
      const s = await rt.exec(id, {
        cmd: ['sh'],
        tty: true,
        stdin: true,
        stdout: true,
        initialSize: { width: 80, height: 24 },
      });
      const out = collectBytes(s.stdout);
      await s.resize({ width: 132, height: 43 });
      await s.writeStdin(Buffer.from('stty size; tty; exit 6\n'));
      const [o, code] = await Promise.all([out, s.exit]);
      assert.match(o.toString(), /43 132/);
      assert.match(o.toString(), /\/dev\/pts\/\d+/);
      assert.equal(code.exitCode, 6);
      await rt.stopContainer(id, 0);
    });

    it('attaches to a container with stdin and sees its exit', async () => {
      const id = await run({
        command: ['sh', '-c', 'read line; echo "got $line"; exit 9'],
        stdin: true,
        stdinOnce: true,
      });
      await running(id);
      const s = await rt.attach(id, { stdin: true, stdout: true, stderr: true });
      const out = collectBytes(s.stdout);
      const err = collectBytes(s.stderr);
      await s.writeStdin(Buffer.from('hello\n'));
      const [o, , code] = await Promise.all([out, err, s.exit]);
      assert.equal(o.toString(), 'got hello\n');
      assert.equal(code.exitCode, 9);
      assert.equal((await exited(id)).exitCode, 9);
    });

    it('forwards a port into the pod', async () => {
      const id = await run({
        command: [
          'sh',
          '-c',
          'mkdir -p /www && echo forwarded > /www/index.html && exec httpd -f -p 8081 -h /www',
        ],
      });
      await running(id);
      const body = await waitFor(
        async () => {
          const conn = await rt.portForward(pod, 8081);
          const chunks: Buffer[] = [];
          conn.on('data', (c: Buffer) => chunks.push(c));
          const done = new Promise<void>((resolve, reject) => {
            conn.on('end', () => resolve());
            conn.on('close', () => resolve());
            conn.on('error', reject);
          });
          conn.end('GET /index.html HTTP/1.0\r\n\r\n');
          await done;
          const text = Buffer.concat(chunks).toString();
          return text.includes('200') ? text : undefined;
        },
        { timeoutMs, description: 'the forwarded port to answer' },
      );
      assert.match(body, /^HTTP\/1\.[01] 200/);
      assert.match(body, /forwarded/);
      await rt.stopContainer(id, 0);
    });

    it('follows logs until the container exits', async () => {
      const id = await run({ command: ['sh', '-c', 'for i in 1 2 3; do echo line-$i; sleep 0.2; done'] });
      const seen: string[] = [];
      for await (const l of rt.containerLogs(id, { follow: true }))
        seen.push(Buffer.from(l.content).toString());
      assert.deepEqual(seen, ['line-1', 'line-2', 'line-3']);
      assert.equal((await rt.containerStatus(id)).state, 'CONTAINER_EXITED');
      const tail: string[] = [];
      for await (const l of rt.containerLogs(id, { tailLines: 1 }))
        tail.push(Buffer.from(l.content).toString());
      assert.deepEqual(tail, ['line-3']);
    });

    it('stops a container with its stop signal before the grace period ends', async () => {
      const id = await run({
        command: ['sh', '-c', 'trap "exit 7" TERM; touch /tmp/trapped; while true; do sleep 0.1; done'],
      });
      await running(id);
      // a SIGTERM before the trap is set would be ignored (PID 1 has no default action)
      await waitFor(async () => (await rt.execSync(id, ['test', '-e', '/tmp/trapped'], 10)).exitCode === 0, {
        timeoutMs,
      });
      await rt.stopContainer(id, 60);
      const st = await rt.containerStatus(id);
      assert.equal(st.state, 'CONTAINER_EXITED');
      assert.equal(st.exitCode, 7, 'the trap ran: SIGTERM came first');
    });

    it('kills a container that ignores the stop signal once the grace period ends', async () => {
      const id = await run({ command: ['sh', '-c', 'trap "" TERM; sleep 1000 & wait; sleep 1000'] });
      await running(id);
      const t0 = Date.now();
      await rt.stopContainer(id, 1);
      const st = await rt.containerStatus(id);
      assert.equal(st.state, 'CONTAINER_EXITED');
      assert.equal(st.exitCode, 137);
      assert.ok(Date.now() - t0 >= 900, 'SIGKILL came only after the grace period');
      await rt.stopContainer(id, 1); // idempotent
    });

    it('removes a running container (stopping it) and removes twice without error', async () => {
      const id = await run({ command: ['sleep', '1000'] });
      await running(id);
      await rt.removeContainer(id);
      await expectCode(rt.containerStatus(id), 'NotFound');
      assert.ok(!(await rt.listContainers({ podSandboxId: pod })).some((c) => c.id === id));
      await rt.removeContainer(id);
    });

    it('removes a ready sandbox with its running containers', async () => {
      const sb = await rt.runPodSandbox(sandboxConfig(`rm-${tag}`), env.handler);
      const id = await run({ command: ['sleep', '1000'] }, sb);
      await running(id);
      await rt.removePodSandbox(sb);
      await expectCode(rt.containerStatus(id), 'NotFound');
      await expectCode(rt.podSandboxStatus(sb), 'NotFound');
    });

    it('shares localhost between the containers of a pod but not their filesystems', async () => {
      const server = await run({
        command: [
          'sh',
          '-c',
          'mkdir -p /www && echo hello-from-server > /www/index.html && echo mine > /tmp/only-here && exec httpd -f -p 8080 -h /www',
        ],
      });
      await running(server);
      const client = await run({ command: ['sleep', '1000'] });
      await running(client);
      const got = await waitFor(
        async () => {
          const r = await rt.execSync(client, ['wget', '-qO-', 'http://127.0.0.1:8080/index.html'], 10);
          return r.exitCode === 0 ? Buffer.from(r.stdout).toString() : undefined;
        },
        { timeoutMs, description: 'the server container to answer on localhost' },
      );
      assert.equal(got, 'hello-from-server\n');
      const own = await rt.execSync(server, ['cat', '/tmp/only-here'], 10);
      assert.equal(Buffer.from(own.stdout).toString(), 'mine\n');
      const other = await rt.execSync(client, ['test', '-e', '/tmp/only-here'], 10);
      assert.equal(other.exitCode, 1, "the other container's /tmp is its own");
      await rt.stopContainer(server, 0);
      await rt.stopContainer(client, 0);
    });

    it('lists and filters containers', async () => {
      const id = await run({ command: ['true'], labels: { pick: tag } });
      await exited(id);
      const byLabel = await rt.listContainers({ labelSelector: { pick: tag } });
      assert.deepEqual(
        byLabel.map((c) => c.id),
        [id],
      );
      assert.equal(byLabel[0]?.podSandboxId, pod);
      assert.ok(
        (await rt.listContainers({ state: 'CONTAINER_EXITED', podSandboxId: pod })).some((c) => c.id === id),
      );
      assert.ok(!(await rt.listContainers({ state: 'CONTAINER_RUNNING' })).some((c) => c.id === id));
    });

    it('refuses bad configs with Invalid, and unknown images and sandboxes with NotFound', async () => {
      await expectCode(
        rt.createContainer(pod, {
          ...containerConfig({ command: ['true'] }),
          metadata: { name: 'a/b', attempt: 0 },
        }),
        'Invalid',
      );
      await expectCode(
        rt.createContainer(
          pod,
          containerConfig({ command: ['true'], mounts: [{ containerPath: 'relative', hostPath: '/tmp' }] }),
        ),
        'Invalid',
      );
      await expectCode(
        rt.createContainer(pod, { metadata: { name: 'x', attempt: 0 } } as unknown as ContainerConfig),
        'Invalid',
      );
      await expectCode(
        rt.runPodSandbox({ metadata: { name: '', uid: 'u', namespace: 'n', attempt: 0 } }, env.handler),
        'Invalid',
      );
      await expectCode(
        rt.createContainer(
          pod,
          containerConfig({ image: `127.0.0.1:1/no-such-image-${tag}:v1`, command: ['true'] }),
        ),
        'NotFound',
      );
      await expectCode(
        rt.createContainer('f'.repeat(64), containerConfig({ command: ['true'] })),
        'NotFound',
      );
      await expectCode(rt.containerStatus('0'.repeat(64)), 'NotFound');
    });

    it('mounts a files volume read-only and shows its next generation after syncPodFiles', async () => {
      const vol = await mkdtemp(join(tmpdir(), 'h8s-conf-files-'));
      try {
        await writeGeneration(vol, 'g1', { greeting: 'hello', 'sub/deep': 'down' });
        const id = await run({
          command: ['sleep', '1000'],
          mounts: [
            { type: 'files', hostPath: vol, containerPath: '/etc/cfg', readonly: true },
            { type: 'files', hostPath: vol, containerPath: '/one', subPath: 'greeting', readonly: true },
          ],
        });
        await running(id);
        const sh = async (script: string): Promise<{ out: string; code: number }> => {
          const r = await rt.execSync(id, ['sh', '-c', script], 20);
          return { out: Buffer.from(r.stdout).toString(), code: r.exitCode };
        };
        assert.deepEqual(await sh('cat /etc/cfg/greeting /etc/cfg/sub/deep /one'), {
          out: 'hellodownhello',
          code: 0,
        });
        assert.notEqual((await sh('echo x > /etc/cfg/new')).code, 0, 'the volume is read-only');
        await writeGeneration(vol, 'g2', { greeting: 'bye', added: 'new' });
        assert.ok(rt.syncPodFiles, 'the runtime serves syncPodFiles');
        await rt.syncPodFiles(pod, vol);
        assert.deepEqual(await sh('cat /etc/cfg/greeting /etc/cfg/added; test -e /etc/cfg/sub; echo " $?"'), {
          out: 'byenew 1\n',
          code: 0,
        });
        assert.equal((await sh('cat /one')).out, 'hello', 'a subPath keeps the file it was given');
        await rt.stopContainer(id, 0);
      } finally {
        await rm(vol, { recursive: true, force: true });
      }
    });

    it('shares an emptyDir between the containers of a pod and caps a memory one at its size', async () => {
      const writer = await run({
        command: ['sh', '-c', 'echo shared > /data/f; mkdir -p /data/d; sleep 1000'],
        mounts: [{ type: 'emptyDir', name: 'scratch', hostPath: '', containerPath: '/data' }],
      });
      await running(writer);
      const reader = await run({
        command: ['sleep', '1000'],
        mounts: [
          { type: 'emptyDir', name: 'scratch', hostPath: '', containerPath: '/mnt' },
          { type: 'emptyDir', name: 'scratch', hostPath: '', containerPath: '/sub', subPath: 'd' },
          {
            type: 'emptyDir',
            name: 'mem',
            hostPath: '',
            containerPath: '/m',
            medium: 'Memory',
            sizeLimitBytes: 1024 * 1024,
          },
        ],
      });
      await running(reader);
      const got = await waitFor(
        async () => {
          const r = await rt.execSync(reader, ['cat', '/mnt/f'], 10);
          return r.exitCode === 0 ? Buffer.from(r.stdout).toString() : undefined;
        },
        { timeoutMs, description: "the writer's file in the shared emptyDir" },
      );
      assert.equal(got, 'shared\n');
      const sub = await rt.execSync(reader, ['sh', '-c', 'touch /sub/x && test -e /mnt/d/x'], 10);
      assert.equal(sub.exitCode, 0, 'a subPath of an emptyDir is a directory of it');
      const big = await rt.execSync(reader, ['sh', '-c', 'dd if=/dev/zero of=/m/big bs=1024 count=4096'], 30);
      assert.notEqual(big.exitCode, 0, 'a 1 MiB memory emptyDir refuses 4 MiB');
      await rt.stopContainer(writer, 0);
      await rt.stopContainer(reader, 0);
    });

    it('refuses a duplicate container name in a pod', async () => {
      await rt.createContainer(pod, {
        ...containerConfig({ command: ['true'] }),
        metadata: { name: `dup-${tag}`, attempt: 0 },
      });
      await expectCode(
        rt.createContainer(pod, {
          ...containerConfig({ command: ['true'] }),
          metadata: { name: `dup-${tag}`, attempt: 0 },
        }),
        'AlreadyExists',
      );
    });
  });
}
