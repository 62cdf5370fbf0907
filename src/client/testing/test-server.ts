/**
 * Starts a real `h8s server` (control plane only: `--disable agent,runtime,scheduler`) on a free
 * loopback port and a temporary data dir, for integration and e2e tests of everything that
 * talks to the API. Stop and restart it on the same data dir to test what survives restarts.
 *
 * It fails with the reason (and the server's last output) when the server cannot start; it
 * never skips.
 */
import net from 'node:net';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeError, spawnProcess, waitFor, type ChildHandle, type Logger } from '../../lib/index.js';
import { createApiClient, type ApiClient } from '../api-client.js';
import { loadKubeconfig, type KubeconfigCredentials } from '../kubeconfig.js';

const binPath = new URL('../../../bin/h8s.js', import.meta.url).pathname;

export interface TestServerOptions {
  /** Reuse a data dir (else a new temp dir, removed by `cleanup`). */
  readonly dataDir?: string | undefined;
  /** Extra `h8s server` flags. */
  readonly extraArgs?: readonly string[] | undefined;
  /** Components to disable; default `agent,runtime,scheduler`. */
  readonly disable?: string | undefined;
  /** Variables for the server process (and its children) on top of this process's. */
  readonly env?: Readonly<Record<string, string>> | undefined;
  /** For the client the helper builds. */
  readonly log?: Logger | undefined;
  readonly startTimeoutMs?: number | undefined;
  /** How much of the server's output `output()` keeps; default 64 KiB. */
  readonly outputBytes?: number | undefined;
}

export interface TestServer {
  readonly dataDir: string;
  readonly port: number;
  readonly kubeconfigPath: string;
  /** Credentials from the server's kubeconfig. */
  readonly credentials: KubeconfigCredentials;
  /** A client on the admin kubeconfig (rebuilt on restart). */
  readonly client: ApiClient;
  /** The last `outputBytes` (64 KiB) of the server's stdout and stderr. */
  output(): string;
  /** Stops the process (SIGTERM, then SIGKILL); keeps the data dir. */
  stop(): Promise<void>;
  /** Starts it again on the same data dir and port. */
  restart(): Promise<void>;
  /** Stops it and removes the data dir if the helper made it. */
  cleanup(): Promise<void>;
}

/** A port that was free a moment ago (bind 0, read, close). */
export async function findFreePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', resolve);
  });
  const { port } = srv.address() as net.AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const ownsDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'h8s-test-server-')));
  const port = await findFreePort();
  // The node agent's streaming port (default 10250) is the test's own, so servers of tests
  // running side by side do not take each other's; a restart keeps it.
  // Its own streaming port (tests run side by side); and its agent leaves the host's own
  // network alone unless the test asks for the pod network (a bridge, a router namespace and
  // routes in this netns).
  const env = {
    H8S_AGENT_STREAMING_PORT: String(await findFreePort()),
    H8S_AGENT_POD_NETWORK: 'none',
    ...options.env,
  };
  const kubeconfigPath = join(dataDir, 'kubeconfig.yaml');
  const startTimeoutMs = options.startTimeoutMs ?? 60_000;
  let child: ChildHandle | undefined;
  let out = '';
  let client: ApiClient | undefined;
  let credentials: KubeconfigCredentials | undefined;
  const append = (chunk: Buffer): void => {
    out += chunk.toString('utf8');
    const keep = options.outputBytes ?? 65_536;
    if (out.length > keep) out = out.slice(out.length - keep);
  };

  async function start(): Promise<void> {
    const argv = [
      process.execPath,
      binPath,
      'server',
      '--data-dir',
      dataDir,
      '--bind-address',
      '127.0.0.1',
      '--port',
      String(port),
      '--disable',
      options.disable ?? 'agent,runtime,scheduler',
      ...(options.extraArgs ?? []),
    ];
    child = await spawnProcess(argv, {
      killGraceMs: 10_000,
      extraEnv: env,
    });
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    const proc = child;
    // If the test process dies without running its after-hooks, do not leave a server behind.
    const killOnExit = (): void => {
      proc.kill('SIGKILL');
    };
    process.once('exit', killOnExit);
    void proc.exited.then(() => process.off('exit', killOnExit));
    let exited = false;
    void proc.exited.then(() => {
      exited = true;
    });
    try {
      const outcome = await waitFor(
        async () => {
          // waitFor treats a throw as "not yet", so an exit is a value that ends the wait.
          if (exited) return 'exited' as const;
          await stat(kubeconfigPath);
          credentials = await loadKubeconfig(kubeconfigPath);
          const probe = createApiClient({ ...credentials, timeoutMs: 2_000 });
          try {
            await probe.request({ method: 'GET', path: '/readyz', accept: 'text/plain, application/json' });
          } finally {
            probe.close();
          }
          // One client for the helper's lifetime: tests check that it survives restarts.
          client ??= createApiClient({ ...credentials, log: options.log, timeoutMs: 10_000 });
          return 'ready' as const;
        },
        {
          timeoutMs: startTimeoutMs,
          intervalMs: 50,
          maxIntervalMs: 250,
          description: `h8s server on port ${port} to become ready`,
        },
      );
      if (outcome === 'exited') throw new Error('h8s server exited before it was ready');
    } catch (err) {
      await proc.stop(2_000);
      throw new Error(
        `Cannot start "h8s server" for the test (data dir ${dataDir}): ${describeError(err)}\n--- server output ---\n${out.slice(-4000)}`,
        { cause: err },
      );
    }
  }

  await start();
  const server: TestServer = {
    dataDir,
    port,
    kubeconfigPath,
    get credentials() {
      return credentials as KubeconfigCredentials;
    },
    get client() {
      return client as ApiClient;
    },
    output: () => out,
    async stop() {
      const c = child;
      child = undefined;
      if (c) await c.stop(10_000);
    },
    async restart() {
      await server.stop();
      await start();
    },
    async cleanup() {
      await server.stop();
      client?.close();
      if (ownsDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
  return server;
}
