/**
 * Streaming end to end: `kubectl logs`, `exec`, `port-forward`, `cp` and `attach` through a
 * real `h8s server` (its API server proxying to its agent's streaming endpoint) into a runc
 * pod and a HyperContainer VM pod, with kubectl 1.33 (WebSocket exec, WebSocket-tunnelled
 * SPDY port-forward) and Debian's 1.20 (SPDY only).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { request as httpsRequest } from 'node:https';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { Writable } from 'node:stream';
import * as k8s from '@kubernetes/client-node';
import { join } from 'node:path';
import { findFreePort, startTestServer, type TestServer } from '../../src/client/testing/test-server.js';
import { pushBusybox } from '../../src/images/testing/image-builder.js';
import { startTestRegistry, type TestRegistry } from '../../src/images/testing/test-registry.js';
import { nullLogger, systemClock, waitFor } from '../../src/lib/index.js';
import { ensureNodeStreamingCredentials } from '../../src/apiserver/index.js';
import { RuntimeClient } from '../../src/runtime/index.js';
import { unmountAll } from '../../src/runtime/host-mounts.js';
import { detectCgroupVersion, removeCgroupTree } from '../../src/runtime/runc/cgroups.js';
import { killProcessesUnder } from '../../src/runtime/testing/processes.js';
import {
  kubectlBinaries,
  kubectlCacheDir,
  kubectlFor,
  type Kubectl,
  type ServerProcess,
} from './helpers/api-server.js';

const cgroupParent = `/h8s-e2e-${randomBytes(4).toString('hex')}`;
// Five lines, a web page for port-forward, then a tick a second for `logs -f` and attach.
const podScript = [
  'for i in 1 2 3 4 5; do echo line-$i; done',
  'mkdir -p /www && echo "hello from $(hostname)" > /www/index.html',
  'httpd -p 8080 -h /www',
  'n=0; while true; do n=$((n+1)); echo tick-$n; sleep 1; done',
].join('; ');

/** A child that collects its output; `waitFor` on `out()` then `kill()`. */
function spawnCollect(k: Kubectl, args: readonly string[]): { child: ChildProcess; out: () => string } {
  const child = spawn(k.argv[0] as string, [...k.argv.slice(1), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (out += d));
  return { child, out: () => out };
}

describe('kubectl logs, exec, port-forward, cp and attach', { timeout: 600_000 }, () => {
  let registry: TestRegistry;
  let server: TestServer;
  let kubectls: Kubectl[] = [];
  let scratch = '';
  let streamingPort = 0;
  const pods = [
    { name: 'stream-runc', runtimeClassName: 'runc' },
    { name: 'stream-vm', runtimeClassName: 'hyper' },
  ];

  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'h8s-e2e-streaming-'));
    registry = await startTestRegistry();
    const image = (await pushBusybox(registry.host)).ref;
    server = await startTestServer({
      disable: '',
      extraArgs: ['--node-name', 'stream-node'],
      env: {
        H8S_RUNTIME_POOL_SIZE: '0',
        H8S_RUNTIME_CGROUP_PARENT: cgroupParent,
        H8S_AGENT_STREAMING_PORT: String((streamingPort = await findFreePort())),
        H8S_RUNTIME_LOG_FORMAT: 'text',
        H8S_AGENT_LOG_FORMAT: 'text',
      },
      outputBytes: 262_144,
    });
    const proc = { kubeconfigPath: server.kubeconfigPath } as ServerProcess;
    kubectls = await Promise.all(
      (await kubectlBinaries(['1.33', '1.20'])).map(async (b) =>
        kubectlFor(b, proc, await kubectlCacheDir(`streaming-${b.version}`)),
      ),
    );
    const k = kubectls[0] as Kubectl;
    for (const p of pods) {
      const manifest = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: p.name },
        spec: {
          runtimeClassName: p.runtimeClassName,
          terminationGracePeriodSeconds: 2,
          containers: [
            {
              name: 'main',
              image,
              command: ['sh', '-c', podScript],
              resources: { limits: { memory: '128Mi', cpu: '500m' } },
            },
          ],
        },
      };
      await k.ok(['apply', '-f', '-'], { input: JSON.stringify(manifest) });
    }
    for (const p of pods) {
      await waitFor(
        async () => {
          const r = await k.run(['logs', p.name]);
          return r.exitCode === 0 && r.stdout.includes('tick-1');
        },
        { timeoutMs: 240_000, intervalMs: 1_000, description: `pod ${p.name} to run and log` },
      );
    }
  });

  after(async () => {
    if (process.exitCode) console.error(server?.output().slice(-20_000));
    if (server) {
      const rt = new RuntimeClient({ endpoint: `unix://${join(server.dataDir, 'runtime.sock')}` });
      for (const s of await rt.listPodSandbox().catch(() => [])) {
        await rt.removePodSandbox(s.id).catch((err: unknown) => console.error(`cleanup: ${String(err)}`));
      }
      rt.close();
      await server.stop();
      await killProcessesUnder(server.dataDir);
      await unmountAll(server.dataDir).catch((err: unknown) => console.error(`unmount: ${String(err)}`));
      await removeCgroupTree(cgroupParent, await detectCgroupVersion());
      await server.cleanup();
    }
    await registry?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  for (const version of ['1.33', '1.20']) {
    for (const p of pods) {
      const what = `${p.runtimeClassName} pod, kubectl ${version}`;

      it(`shows logs with --tail and follows them with -f (${what})`, async () => {
        const k = kubectls.find((x) => x.version === version) as Kubectl;
        const all = await k.ok(['logs', p.name]);
        assert.match(all, /^line-1\nline-2\nline-3\nline-4\nline-5\ntick-1\n/);
        const tail = await k.ok(['logs', p.name, '--tail=1']);
        assert.match(tail, /^tick-\d+\n$/);
        const stamped = await k.ok(['logs', p.name, '--tail=1', '--timestamps']);
        assert.match(stamped, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z tick-\d+\n$/);
        // Only following shows more lines than the one --tail=1 starts with.
        const f = spawnCollect(k, ['logs', '-f', '--tail=1', p.name]);
        try {
          await waitFor(async () => (f.out().match(/^tick-\d+$/gm) ?? []).length >= 3, {
            timeoutMs: 20_000,
            description: `logs -f to follow: ${f.out()}`,
          });
        } finally {
          f.child.kill();
        }
        const r = await k.run(['logs', p.name, '-c', 'nope']);
        assert.notEqual(r.exitCode, 0);
        assert.match(r.stderr, /container nope is not valid for pod/);
      });

      it(`execs commands with their output, exit code and stdin (${what})`, async () => {
        const k = kubectls.find((x) => x.version === version) as Kubectl;
        assert.equal(await k.ok(['exec', p.name, '--', 'echo', 'hello', 'world']), 'hello world\n');
        const failed = await k.run(['exec', p.name, '--', 'sh', '-c', 'echo oops >&2; exit 3']);
        assert.equal(failed.exitCode, 3, failed.stderr);
        assert.match(failed.stderr, /oops/);
        assert.match(failed.stderr, /command terminated with exit code 3/);
        const input = 'some input\nover two lines\n';
        assert.equal(await k.ok(['exec', '-i', p.name, '--', 'cat'], { input }), input);
        const missing = await k.run(['exec', p.name, '--', 'no-such-command']);
        assert.notEqual(missing.exitCode, 0);
      });

      it(`forwards a port to the pod's web server (${what})`, async () => {
        const k = kubectls.find((x) => x.version === version) as Kubectl;
        const local = await findFreePort();
        const pf = spawnCollect(k, ['port-forward', `pod/${p.name}`, `${local}:8080`]);
        try {
          await waitFor(async () => pf.out().includes('Forwarding from'), {
            timeoutMs: 20_000,
            description: `port-forward to start: ${pf.out()}`,
          });
          for (let i = 0; i < 2; i++) {
            const res = await fetch(`http://127.0.0.1:${local}/index.html`);
            assert.equal(res.status, 200);
            assert.match(await res.text(), /^hello from /);
          }
        } finally {
          pf.child.kill();
        }
      });

      it(`copies files to and from the pod (${what})`, async () => {
        const k = kubectls.find((x) => x.version === version) as Kubectl;
        const src = join(scratch, `in-${p.name}-${version}.txt`);
        const back = join(scratch, `out-${p.name}-${version}.txt`);
        const content = `copied ${randomBytes(8).toString('hex')}\n`.repeat(100);
        await writeFile(src, content);
        await k.ok(['cp', src, `${p.name}:/tmp/copied.txt`]);
        assert.equal(await k.ok(['exec', p.name, '--', 'cat', '/tmp/copied.txt']), content);
        await k.ok(['cp', `${p.name}:/tmp/copied.txt`, back]);
        assert.equal(await readFile(back, 'utf8'), content);
      });

      it(`attaches to the pod's output (${what})`, async () => {
        const k = kubectls.find((x) => x.version === version) as Kubectl;
        const a = spawnCollect(k, ['attach', p.name]);
        try {
          await waitFor(async () => /tick-\d+/.test(a.out()), {
            timeoutMs: 20_000,
            description: `attach to show output: ${a.out()}`,
          });
        } finally {
          a.child.kill();
        }
      });
    }
  }

  it('execs with @kubernetes/client-node over WebSocket, with the exit status', async () => {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(server.kubeconfigPath);
    const exec = new k8s.Exec(kc);
    const run = (cmd: string[]): Promise<{ out: string; status: k8s.V1Status }> =>
      new Promise((resolve, reject) => {
        let out = '';
        const stdout = new Writable({
          write(chunk: Buffer, _enc, cb) {
            out += chunk.toString('utf8');
            cb();
          },
        });
        exec
          .exec('default', 'stream-runc', 'main', cmd, stdout, null, null, false, (status) =>
            resolve({ out, status }),
          )
          .catch(reject);
      });
    const ok = await run(['echo', 'from client-node']);
    assert.equal(ok.status.status, 'Success');
    assert.equal(ok.out, 'from client-node\n');
    const failed = await run(['sh', '-c', 'exit 4']);
    assert.equal(failed.status.reason, 'NonZeroExitCode');
    assert.equal(failed.status.details?.causes?.[0]?.message, '4');
  });

  it('forwards a port with @kubernetes/client-node over WebSocket channels', async () => {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(server.kubeconfigPath);
    const forward = new k8s.PortForward(kc);
    const sockets = new Set<Socket>();
    const local = createServer((sock) => {
      sockets.add(sock);
      forward.portForward('default', 'stream-vm', [8080], sock, null, sock).catch(() => sock.destroy());
    });
    await new Promise<void>((resolve) => local.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = local.address() as AddressInfo;
      const res = await fetch(`http://127.0.0.1:${port}/index.html`, { headers: { connection: 'close' } });
      assert.equal(res.status, 200);
      assert.match(await res.text(), /^hello from /);
    } finally {
      for (const s of sockets) s.destroy();
      local.close();
    }
  });

  it("serves the agent's streaming port only to the API server's kubelet client certificate", async () => {
    const tlsDir = join(server.dataDir, 'server', 'tls');
    const ca = await readFile(join(tlsDir, 'server-ca.crt'), 'utf8');
    const get = (creds: { cert?: string; key?: string }): Promise<number> =>
      new Promise((resolve, reject) => {
        const req = httpsRequest(
          {
            host: '127.0.0.1',
            port: streamingPort,
            path: '/containerLogs/default/stream-runc/main?tailLines=1',
            ca,
            servername: 'stream-node',
            ...creds,
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.end();
      });
    const client = {
      cert: await readFile(join(tlsDir, 'kubelet-client.crt'), 'utf8'),
      key: await readFile(join(tlsDir, 'kubelet-client.key'), 'utf8'),
    };
    assert.equal(await get(client), 200);
    // No client certificate: the TLS handshake fails.
    await assert.rejects(get({}));
    // Another certificate of the same CA (a node's serving certificate) is refused.
    const other = join(scratch, 'other-node');
    await ensureNodeStreamingCredentials(tlsDir, other, 'other-node', [], {
      clock: systemClock,
      log: nullLogger,
    });
    const node = {
      cert: await readFile(join(other, 'pki', 'streaming.crt'), 'utf8'),
      key: await readFile(join(other, 'pki', 'streaming.key'), 'utf8'),
    };
    // Refused either way: by the TLS layer (its usage is serverAuth) or with 403 (its name).
    const refused = await get(node).catch(() => 'no connection');
    assert.ok(refused === 403 || refused === 'no connection', String(refused));
  });

  it('leaves the pods running: no exec, attach or port-forward restarted a container', async () => {
    const k = kubectls[0] as Kubectl;
    for (const p of pods) {
      const pod = JSON.parse(await k.ok(['get', 'pod', p.name, '-o', 'json'])) as {
        status: { phase: string; containerStatuses: { restartCount: number }[] };
      };
      assert.equal(pod.status.phase, 'Running');
      assert.equal(pod.status.containerStatuses[0]?.restartCount, 0, p.name);
    }
  });

  it('answers Status errors for a missing pod and a pod without a node', async () => {
    const k = kubectls[0] as Kubectl;
    const r = await k.run(['logs', 'no-such-pod']);
    assert.notEqual(r.exitCode, 0);
    assert.match(r.stderr, /not found/);
    const manifest = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'stream-unscheduled' },
      spec: {
        nodeSelector: { 'h8s.io/no-such-label': 'x' },
        containers: [{ name: 'c', image: 'busybox', command: ['sleep', '1'] }],
      },
    };
    await k.ok(['apply', '-f', '-'], { input: JSON.stringify(manifest) });
    const pending = await k.run(['logs', 'stream-unscheduled']);
    assert.notEqual(pending.exitCode, 0);
    assert.match(pending.stderr, /does not have a host assigned/);
    await k.ok(['delete', 'pod', 'stream-unscheduled', '--wait=false']);
  });
});
