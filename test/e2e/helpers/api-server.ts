/**
 * e2e helpers for the API server: a real `h8s server --disable agent,runtime` process on a free
 * loopback port with its own data dir, an HTTPS client that trusts its CA and holds its admin
 * token, and the real kubectl binaries (1.33 and 1.27 from the image, Debian's 1.20 from
 * `.cache/kubectl-1.20`, unpacked by scripts/setup.d/20-kubectl-1.20.sh).
 *
 * Nothing here skips: a missing binary fails with the reason and how to get it.
 */
import { mkdtemp, readFile, realpath, rm, stat } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import {
  execFile,
  findExecutable,
  spawnProcess,
  waitFor,
  type ChildHandle,
  type ExecResult,
} from '../../../src/lib/index.js';

const repoRoot = new URL('../../../', import.meta.url).pathname;
const binPath = join(repoRoot, 'bin/h8s.js');

export interface ServerProcess {
  readonly dataDir: string;
  readonly port: number;
  readonly url: string;
  readonly kubeconfigPath: string;
  /** The last 256 KiB of the server's output. */
  output(): string;
  /** An HTTPS request with the admin token (or none with `token: null`). */
  request(method: string, path: string, options?: ApiRequestOptions): Promise<ApiResponse>;
  stop(): Promise<void>;
  /** Starts again on the same data dir and port. */
  start(): Promise<void>;
  /** Stops and removes the data dir (when the helper created it). */
  cleanup(): Promise<void>;
}

export interface ApiRequestOptions {
  readonly body?: string | Buffer | object;
  readonly contentType?: string;
  readonly accept?: string;
  readonly token?: string | null;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface ApiResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  readonly json: Record<string, unknown> & { items?: Record<string, unknown>[] };
}

/** A port that was free a moment ago. */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', resolve);
  });
  const { port } = srv.address() as net.AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

interface KubeconfigInfo {
  readonly server: string;
  readonly ca: string;
  readonly token: string;
}

async function readKubeconfig(path: string): Promise<KubeconfigInfo> {
  const doc = parseYaml(await readFile(path, 'utf8')) as {
    clusters: { cluster: { server: string; 'certificate-authority-data': string } }[];
    users: { user: { token: string } }[];
  };
  const cluster = doc.clusters[0]?.cluster;
  const token = doc.users[0]?.user.token;
  if (!cluster || !token) throw new Error(`kubeconfig ${path} has no cluster or token`);
  return {
    server: cluster.server,
    ca: Buffer.from(cluster['certificate-authority-data'], 'base64').toString('utf8'),
    token,
  };
}

export interface StartServerOptions {
  readonly dataDir?: string;
  readonly extraArgs?: readonly string[];
  readonly startTimeoutMs?: number;
}

/** Starts `h8s server` and waits until /readyz answers over HTTPS with its CA. */
export async function startServerProcess(options: StartServerOptions = {}): Promise<ServerProcess> {
  const ownsDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'h8s-e2e-apiserver-')));
  const port = await freePort();
  const kubeconfigPath = join(dataDir, 'kubeconfig.yaml');
  let child: ChildHandle | undefined;
  let out = '';
  let kc: KubeconfigInfo | undefined;
  const append = (chunk: Buffer): void => {
    out += chunk.toString('utf8');
    if (out.length > 262_144) out = out.slice(out.length - 262_144);
  };

  const request = (method: string, path: string, o: ApiRequestOptions = {}): Promise<ApiResponse> =>
    new Promise((resolve, reject) => {
      if (!kc) {
        reject(new Error('the server has not started'));
        return;
      }
      let payload: Buffer | undefined;
      if (o.body !== undefined) {
        payload = Buffer.isBuffer(o.body)
          ? o.body
          : typeof o.body === 'string'
            ? Buffer.from(o.body)
            : Buffer.from(JSON.stringify(o.body));
      }
      const headers: Record<string, string> = { ...(o.headers ?? {}) };
      if (o.token !== null) headers['authorization'] = `Bearer ${o.token ?? kc.token}`;
      if (payload) {
        headers['content-type'] = o.contentType ?? 'application/json';
        headers['content-length'] = String(payload.length);
      }
      if (o.accept) headers['accept'] = o.accept;
      const req = httpsRequest(`https://127.0.0.1:${port}${path}`, { method, headers, ca: kc.ca }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: Record<string, unknown> = {};
          try {
            json = JSON.parse(text) as Record<string, unknown>;
          } catch {
            // not JSON
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(payload);
    });

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
      'agent,runtime',
      ...(options.extraArgs ?? []),
    ];
    child = await spawnProcess(argv, { cwd: repoRoot, killGraceMs: 10_000 });
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    let exited = false;
    void child.exited.then(() => {
      exited = true;
    });
    await waitFor(
      async () => {
        if (exited) throw new Error(`h8s server exited during start:\n${out.slice(-4000)}`);
        try {
          await stat(kubeconfigPath);
          kc = await readKubeconfig(kubeconfigPath);
          if (!kc.server.endsWith(`:${port}`)) return false;
          const r = await request('GET', '/readyz', { token: null });
          return r.status === 200;
        } catch {
          return false;
        }
      },
      { timeoutMs: options.startTimeoutMs ?? 60_000, description: `h8s server on port ${port} to be ready` },
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n--- server output ---\n${out.slice(-4000)}`);
    });
  }

  async function stop(): Promise<void> {
    const c = child;
    child = undefined;
    if (c) await c.stop(15_000);
  }

  await start();
  return {
    dataDir,
    port,
    url: `https://127.0.0.1:${port}`,
    kubeconfigPath,
    output: () => out,
    request,
    stop,
    start,
    async cleanup() {
      await stop();
      if (ownsDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export interface KubectlBinary {
  /** e.g. `1.33` */
  readonly version: string;
  readonly path: string;
}

/**
 * The kubectl binaries the e2e tests use: 1.33 and 1.27 beside the image's kubectl dispatcher,
 * and Debian's 1.20. @throws naming what is missing and how to get it.
 */
export async function kubectlBinaries(
  versions: readonly string[] = ['1.33', '1.27', '1.20'],
): Promise<KubectlBinary[]> {
  const out: KubectlBinary[] = [];
  for (const version of versions) {
    let path: string;
    if (version === '1.20') {
      path = join(repoRoot, '.cache/kubectl-1.20/usr/bin/kubectl');
      if (!(await findExecutable(path))) {
        throw new Error(
          `${path} is missing; run scripts/setup.d/20-kubectl-1.20.sh (npm run setup) to unpack Debian's kubectl 1.20`,
        );
      }
    } else {
      const dispatcher = await findExecutable('kubectl');
      if (!dispatcher)
        throw new Error(
          'kubectl is not on PATH; the e2e tests need the versioned kubectl binaries of the image',
        );
      path = join(dirname(await realpath(dispatcher)), `kubectl.${version}`);
      if (!(await findExecutable(path)))
        throw new Error(`${path} is missing; the e2e tests need kubectl ${version}`);
    }
    out.push({ version, path });
  }
  return out;
}

export interface Kubectl {
  readonly version: string;
  /** Runs kubectl with `--kubeconfig` and `--cache-dir`; never throws on a non-zero exit. */
  run(
    args: readonly string[],
    options?: { input?: string; env?: Record<string, string>; timeoutMs?: number },
  ): Promise<ExecResult>;
  /** Like `run` but fails the test (with stderr) unless kubectl exits 0; returns stdout. */
  ok(args: readonly string[], options?: { input?: string; env?: Record<string, string> }): Promise<string>;
  /** The argv prefix, for processes the test manages itself (`get -w`). */
  readonly argv: readonly string[];
}

export function kubectlFor(bin: KubectlBinary, server: ServerProcess, cacheDir: string): Kubectl {
  const argv = [bin.path, '--kubeconfig', server.kubeconfigPath, '--cache-dir', cacheDir];
  const run: Kubectl['run'] = (args, o = {}) =>
    execFile([...argv, ...args], {
      check: false,
      timeoutMs: o.timeoutMs ?? 60_000,
      ...(o.input !== undefined ? { input: o.input } : {}),
      ...(o.env ? { extraEnv: o.env } : {}),
    });
  return {
    version: bin.version,
    argv,
    run,
    async ok(args, o = {}) {
      const r = await run(args, o);
      if (r.exitCode !== 0) {
        throw new Error(
          `kubectl ${bin.version} ${args.join(' ')} exited ${r.exitCode}:\n${r.stderr}${r.stdout}`,
        );
      }
      return r.stdout;
    },
  };
}

/** A temp dir for kubectl's caches (discovery, HTTP). */
export async function kubectlCacheDir(label: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `h8s-e2e-kubectl-${label}-`));
}
