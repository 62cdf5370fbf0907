/**
 * e2e helpers for the API server: a real `h8s server --disable agent,runtime` process on a free
 * loopback port with its own data dir, an HTTPS client that trusts its CA and holds its admin
 * token, and the real kubectl binaries (1.33 and 1.27 from the image, Debian's 1.20 from
 * `.cache/kubectl-1.20`, unpacked by scripts/setup.d/20-kubectl-1.20.sh).
 *
 * Nothing here skips: a missing binary fails with the reason and how to get it.
 */
import { mkdtemp, realpath } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { findFreePort, startTestServer } from '../../../src/client/testing/test-server.js';
import { execFile, findExecutable, type ExecResult } from '../../../src/lib/index.js';

const repoRoot = new URL('../../../', import.meta.url).pathname;

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

/** A port that was free a moment ago (bench/api.bench.ts uses it). */
export const freePort = findFreePort;

export interface StartServerOptions {
  readonly dataDir?: string;
  readonly extraArgs?: readonly string[];
  readonly startTimeoutMs?: number;
}

/**
 * Starts `h8s server --disable agent,runtime` (src/client/testing's test server) and adds a raw
 * HTTPS request helper that trusts its CA and holds its admin token.
 */
export async function startServerProcess(options: StartServerOptions = {}): Promise<ServerProcess> {
  const server = await startTestServer({
    dataDir: options.dataDir,
    extraArgs: options.extraArgs,
    startTimeoutMs: options.startTimeoutMs,
    outputBytes: 262_144,
  });
  const url = `https://127.0.0.1:${server.port}`;

  const request = (method: string, path: string, o: ApiRequestOptions = {}): Promise<ApiResponse> =>
    new Promise((resolve, reject) => {
      const { token, caPem } = server.credentials;
      let payload: Buffer | undefined;
      if (o.body !== undefined) {
        payload = Buffer.isBuffer(o.body)
          ? o.body
          : typeof o.body === 'string'
            ? Buffer.from(o.body)
            : Buffer.from(JSON.stringify(o.body));
      }
      const headers: Record<string, string> = { ...(o.headers ?? {}) };
      if (o.token !== null) headers['authorization'] = `Bearer ${o.token ?? token ?? ''}`;
      if (payload) {
        headers['content-type'] = o.contentType ?? 'application/json';
        headers['content-length'] = String(payload.length);
      }
      if (o.accept) headers['accept'] = o.accept;
      const req = httpsRequest(`${url}${path}`, { method, headers, ca: caPem }, (res) => {
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

  return {
    dataDir: server.dataDir,
    port: server.port,
    url,
    kubeconfigPath: server.kubeconfigPath,
    output: () => server.output(),
    request,
    stop: () => server.stop(),
    start: () => server.restart(),
    cleanup: () => server.cleanup(),
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
