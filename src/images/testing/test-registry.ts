/**
 * A real OCI registry for tests: Debian's `docker-registry` (distribution 2.8) on a free
 * loopback port with its storage in a temp dir, optionally behind htpasswd (Basic) or token
 * (Bearer JWT) auth. `stop()` kills it and removes the temp dir.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { execFile, spawnProcess, waitFor, type ChildHandle } from '../../lib/index.js';
import { startTokenServer, type TokenServer } from './token-server.js';

export type TestRegistryAuth = 'none' | 'htpasswd' | 'token';

export interface TestRegistryOptions {
  readonly auth?: TestRegistryAuth;
  /** Credentials accepted (htpasswd and token modes). Default `h8s` / `h8s-secret`. */
  readonly username?: string;
  readonly password?: string;
  /** Parent of the temp dir. Default the OS temp dir. */
  readonly tmpRoot?: string;
}

export interface TestRegistry {
  /** `127.0.0.1:<port>`: use it as the registry part of references. */
  readonly host: string;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly auth: TestRegistryAuth;
  readonly username: string;
  readonly password: string;
  /** The temp dir holding config, storage and logs. */
  readonly dir: string;
  /** The token server, in token mode. */
  readonly tokenServer?: TokenServer;
  /** The registry's log output so far (bounded), for failure messages. */
  logs(): string;
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (bind 0, read it, close). */
export async function freeLoopbackPort(): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function probe(url: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const r = request(url, { method: 'GET', timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    r.on('error', reject);
    r.on('timeout', () => r.destroy(new Error('timeout')));
    r.end();
  });
}

/**
 * Starts a registry. Always `stop()` it in `after`/`finally`.
 * @throws when `docker-registry` is missing (install it with scripts/host-setup.sh) or does not start
 */
export async function startTestRegistry(options: TestRegistryOptions = {}): Promise<TestRegistry> {
  const auth = options.auth ?? 'none';
  const username = options.username ?? 'h8s';
  const password = options.password ?? 'h8s-secret';
  const dir = await mkdtemp(join(options.tmpRoot ?? tmpdir(), 'h8s-test-registry-'));
  let child: ChildHandle | undefined;
  let tokenServer: TokenServer | undefined;
  const logChunks: string[] = [];
  let logBytes = 0;
  const keepLog = (c: Buffer): void => {
    if (logBytes > 256 * 1024) return;
    logBytes += c.length;
    logChunks.push(c.toString('utf8'));
  };
  try {
    let authYaml = '';
    if (auth === 'htpasswd') {
      const r = await execFile(['htpasswd', '-Bbn', username, password]);
      await writeFile(join(dir, 'htpasswd'), r.stdout.trim() + '\n');
      authYaml = `auth:\n  htpasswd:\n    realm: h8s-test-registry\n    path: ${join(dir, 'htpasswd')}\n`;
    } else if (auth === 'token') {
      tokenServer = await startTokenServer({
        dir,
        username,
        password,
        service: 'h8s-test-registry',
        issuer: 'h8s-test-issuer',
      });
      authYaml = [
        'auth:',
        '  token:',
        `    realm: ${tokenServer.realm}`,
        `    service: ${tokenServer.service}`,
        `    issuer: ${tokenServer.issuer}`,
        `    rootcertbundle: ${tokenServer.certPath}`,
        '',
      ].join('\n');
    }
    for (let attempt = 0; ; attempt++) {
      const port = await freeLoopbackPort();
      const config = [
        'version: 0.1',
        'log:',
        '  level: warn',
        '  accesslog:',
        '    disabled: true',
        'storage:',
        '  filesystem:',
        `    rootdirectory: ${join(dir, 'data')}`,
        '  delete:',
        '    enabled: true',
        '  maintenance:',
        '    uploadpurging:',
        '      enabled: false',
        'http:',
        `  addr: 127.0.0.1:${port}`,
        `  secret: ${randomBytes(16).toString('hex')}`,
        authYaml,
      ].join('\n');
      await writeFile(join(dir, 'config.yml'), config);
      child = await spawnProcess(['docker-registry', 'serve', join(dir, 'config.yml')], {
        stdio: ['ignore', 'pipe', 'pipe'],
        killGraceMs: 3000,
      });
      child.stdout?.on('data', keepLog);
      child.stderr?.on('data', keepLog);
      const exited = child.exited;
      let dead = false;
      void exited.then(() => {
        dead = true;
      });
      try {
        await waitFor(
          async () => {
            if (dead) throw new Error('docker-registry exited');
            const status = await probe(`http://127.0.0.1:${port}/v2/`);
            return status === 200 || status === 401;
          },
          { timeoutMs: 15_000, description: `docker-registry on 127.0.0.1:${port}` },
        );
        const host = `127.0.0.1:${port}`;
        const c = child;
        const ts = tokenServer;
        return {
          host,
          url: `http://${host}`,
          auth,
          username,
          password,
          dir,
          ...(ts ? { tokenServer: ts } : {}),
          logs: () => logChunks.join(''),
          stop: async () => {
            await c.stop(3000);
            await ts?.close();
            await rm(dir, { recursive: true, force: true, maxRetries: 3 });
          },
        };
      } catch (err) {
        await child.stop(1000);
        if (attempt >= 2)
          throw new Error(`docker-registry did not start: ${logChunks.join('').slice(-2000)}`, {
            cause: err,
          });
      }
    }
  } catch (err) {
    await child?.stop(1000);
    await tokenServer?.close();
    await rm(dir, { recursive: true, force: true, maxRetries: 3 });
    throw err;
  }
}
