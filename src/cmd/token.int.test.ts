/**
 * Joining nodes against a real `h8s server` over HTTPS: the server's node token, `h8s token
 * create|list|delete`, an `h8s agent` that joins with a token (its Node is created as
 * `system:node:<name>`), a pinned CA that does not match, refused tokens, bad node names and
 * renewal with the node's own certificate.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { generateKeyPairSync } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { builtinResources } from '../client/index.js';
import { startTestServer, type TestServer } from '../client/testing/test-server.js';
import { ManualClock, execFile, nullLogger, spawnProcess, waitFor, type ChildHandle } from '../lib/index.js';
import {
  ensureJoinedCredentials,
  renewAtMs,
  runCredentialRenewal,
  type NodeCredentials,
} from './agent-join.js';
import { bootstrapTokenSecret, caCertificateHash, parseJoinToken } from './join-token.js';

const bin = new URL('../../bin/h8s.js', import.meta.url).pathname;

interface Reply {
  readonly status: number;
  readonly json: Record<string, unknown>;
  readonly text: string;
}

function publicKeyPem(): string {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({
    type: 'spki',
    format: 'pem',
  }) as string;
}

describe('joining nodes with join tokens', { timeout: 240_000 }, () => {
  let server: TestServer;
  let url = '';
  let caPem = '';
  const agents: ChildHandle[] = [];

  /** A request to the server, trusting its CA, with a bearer token or a client certificate. */
  function call(
    method: string,
    path: string,
    options: { body?: unknown; token?: string; cert?: string; key?: string } = {},
  ): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const body = options.body === undefined ? undefined : JSON.stringify(options.body);
      const req = httpsRequest(
        `${url}${path}`,
        {
          method,
          ca: caPem,
          ...(options.cert !== undefined ? { cert: options.cert, key: options.key } : {}),
          headers: {
            ...(options.token !== undefined ? { Authorization: `Bearer ${options.token}` } : {}),
            ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
          },
          agent: false,
        },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => {
            let json: Record<string, unknown> = {};
            try {
              json = JSON.parse(text) as Record<string, unknown>;
            } catch {
              // not JSON (PEM)
            }
            resolve({ status: res.statusCode ?? 0, json, text });
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  async function h8s(...args: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }> {
    return execFile([process.execPath, bin, ...args], {
      check: false,
      extraEnv: { H8S_DATA_DIR: server.dataDir },
    });
  }

  function startAgent(nodeName: string, tokenFile: string): Promise<ChildHandle> {
    return spawnProcess(
      [
        process.execPath,
        bin,
        'agent',
        '--server',
        url,
        '--token-file',
        tokenFile,
        '--node-name',
        nodeName,
        '--data-dir',
        join(server.dataDir, `agent-${nodeName}`),
        '--node-ip',
        '127.0.0.1',
        // No runtime: registering the Node needs none.
        '--runtime-endpoint',
        `unix://${join(server.dataDir, 'no-runtime.sock')}`,
        '--log-format',
        'text',
      ],
      { killGraceMs: 5_000 },
    );
  }

  async function agentOutput(agent: ChildHandle): Promise<{ code: number | null; out: string }> {
    let out = '';
    agent.stdout?.on('data', (b: Buffer) => (out += b.toString()));
    agent.stderr?.on('data', (b: Buffer) => (out += b.toString()));
    const status = await agent.exited;
    return { code: status.code, out };
  }

  before(async () => {
    // Node certificates of an hour, so the renewal below is due after 40 minutes.
    server = await startTestServer({ extraArgs: ['--node-cert-lifetime', '1h'] });
    url = server.credentials.server;
    caPem = server.credentials.caPem ?? '';
    await waitFor(() => stat(join(server.dataDir, 'server', 'node-token')), {
      timeoutMs: 30_000,
      description: 'the node token',
    });
  });

  after(async () => {
    await Promise.all(agents.map((a) => a.stop(5_000)));
    await server?.cleanup();
  });

  it('writes a node token pinning the CA, kept across restarts, backed by a bootstrap-token Secret', async () => {
    const path = join(server.dataDir, 'server', 'node-token');
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    const text = await readFile(path, 'utf8');
    const token = parseJoinToken(text);
    assert.equal(token.caHash, caCertificateHash(caPem));
    const cacerts = await call('GET', '/cacerts');
    assert.equal(cacerts.status, 200);
    assert.equal(caCertificateHash(cacerts.text), token.caHash);
    const secret = await server.client
      .resource(builtinResources.secrets, 'kube-system')
      .get(`bootstrap-token-${token.id}`);
    assert.equal(secret['type'], 'bootstrap.kubernetes.io/token');
    await server.restart();
    assert.equal(await readFile(path, 'utf8'), text, 'the token survives a restart');
  });

  it('creates and lists tokens, and an agent joins with one as system:node:<name>', async (t) => {
    const created = await h8s('token', 'create', '--ttl', '2h', '--description', 'second node');
    assert.equal(created.exitCode, 0, created.stderr);
    const joinToken = created.stdout.trim();
    const token = parseJoinToken(joinToken);
    assert.equal(token.caHash, caCertificateHash(caPem));
    const listed = await h8s('token', 'list');
    assert.equal(listed.exitCode, 0, listed.stderr);
    assert.match(listed.stdout, /^ID\s+TTL\s+EXPIRES\s+DESCRIPTION$/m);
    assert.match(listed.stdout, new RegExp(`^${token.id}\\s+1h\\s+\\S+Z\\s+second node$`, 'm'));
    assert.match(listed.stdout, /<forever>\s+<never>\s+The node join token/);

    const tokenFile = join(server.dataDir, 'node-b.token');
    await writeFile(tokenFile, joinToken + '\n', { mode: 0o600 });
    const agent = await startAgent('node-b', tokenFile);
    agents.push(agent);
    let out = '';
    agent.stdout?.on('data', (b: Buffer) => (out += b.toString()));
    agent.stderr?.on('data', (b: Buffer) => (out += b.toString()));
    try {
      const nodes = server.client.resource(builtinResources.nodes);
      await waitFor(() => nodes.get('node-b'), { timeoutMs: 60_000, description: 'the Node of node-b' });
      assert.match(
        server.output(),
        /"method":"POST","path":"\/api\/v1\/nodes","code":201[^\n]*"user":"system:node:node-b"/,
      );
      const dir = join(server.dataDir, 'agent-node-b');
      const cert = new X509Certificate(await readFile(join(dir, 'client.crt'), 'utf8'));
      assert.equal(cert.subject, 'CN=system:node:node-b\nO=system:nodes');
      assert.ok(cert.verify(new X509Certificate(caPem).publicKey));
      assert.equal((await stat(join(dir, 'client.key'))).mode & 0o777, 0o600);
      const serving = new X509Certificate(await readFile(join(dir, 'serving.crt'), 'utf8'));
      assert.ok(serving.checkIP('127.0.0.1'), 'the serving certificate names the node IP');
      assert.ok(serving.checkHost('node-b'), 'and the node name');

      // The credential works on its own: the node reads its Node with its certificate.
      const key = await readFile(join(dir, 'client.key'), 'utf8');
      const got = await call('GET', '/api/v1/nodes/node-b', { cert: cert.toString(), key });
      assert.equal(got.status, 200, got.text);

      // A restarted agent reuses its certificate (no second join).
      await agent.stop(5_000);
      const again = await startAgent('node-b', tokenFile);
      agents.push(again);
      let againOut = '';
      again.stdout?.on('data', (b: Buffer) => (againOut += b.toString()));
      again.stderr?.on('data', (b: Buffer) => (againOut += b.toString()));
      await waitFor(() => againOut.includes('Pod informer synced'), {
        timeoutMs: 30_000,
        description: 'the restarted agent',
      });
      assert.doesNotMatch(againOut, /Joined the cluster/);
      assert.equal(await readFile(join(dir, 'client.crt'), 'utf8'), cert.toString());
      await again.stop(5_000);
    } catch (err) {
      t.diagnostic(`agent output:\n${out}\nserver output:\n${server.output().slice(-6000)}`);
      throw err;
    }
  });

  it('refuses to join a server whose CA does not match the pinned hash, naming both hashes', async () => {
    const token = parseJoinToken(await readFile(join(server.dataDir, 'server', 'node-token'), 'utf8'));
    const wrong = 'ff'.repeat(32);
    const tokenFile = join(server.dataDir, 'wrong-pin.token');
    await writeFile(tokenFile, `K10${wrong}::${token.id}.${token.secret}\n`);
    const agent = await startAgent('node-x', tokenFile);
    agents.push(agent);
    const { code, out } = await agentOutput(agent);
    assert.equal(code, 1, out);
    assert.ok(out.includes(wrong), out);
    assert.ok(out.includes(token.caHash), out);
    assert.match(out, /refusing to join/);
    await assert.rejects(stat(join(server.dataDir, 'agent-node-x', 'client.crt')));
  });

  it('answers 401 for wrong, expired and deleted tokens', async () => {
    const body = { nodeName: 'node-c', clientPublicKey: publicKeyPem() };
    const post = (token?: string): Promise<Reply> =>
      call('POST', '/h8s/v1/node-credentials', { body, ...(token !== undefined ? { token } : {}) });
    assert.equal((await post()).status, 401);
    assert.equal((await post('not-a-token')).status, 401);
    const token = parseJoinToken(await readFile(join(server.dataDir, 'server', 'node-token'), 'utf8'));
    const wrongSecret = await post(`${token.id}.${'0'.repeat(16)}`);
    assert.equal(wrongSecret.status, 401);
    assert.equal(wrongSecret.json['reason'], 'Unauthorized');
    assert.equal((await post(`zzzzzz.${token.secret}`)).status, 401);

    const secrets = server.client.resource(builtinResources.secrets, 'kube-system');
    await secrets.create(
      bootstrapTokenSecret({
        id: 'exp123',
        secret: 'abcdefghijklmnop',
        description: 'expired',
        expiresMs: Date.now() - 60_000,
      }),
    );
    const expired = await post('exp123.abcdefghijklmnop');
    assert.equal(expired.status, 401);
    assert.match(expired.json['message'] as string, /expired/);
    assert.equal(await secrets.find('bootstrap-token-exp123'), undefined, 'the expired token is cleaned up');

    const created = await h8s('token', 'create', '--description', 'short-lived');
    const fresh = parseJoinToken(created.stdout);
    assert.equal((await post(`${fresh.id}.${fresh.secret}`)).status, 201);
    const deleted = await h8s('token', 'delete', fresh.id);
    assert.equal(deleted.exitCode, 0, deleted.stderr);
    assert.equal((await post(`${fresh.id}.${fresh.secret}`)).status, 401);
    const unknown = await h8s('token', 'delete', fresh.id);
    assert.equal(unknown.exitCode, 1);
    assert.match(unknown.stderr, new RegExp(`no token with id "${fresh.id}"`));
    assert.doesNotMatch(server.output(), new RegExp(fresh.secret), 'secrets never reach the log');
  });

  it('refuses a node name that is not a DNS subdomain with 422', async () => {
    const token = parseJoinToken(await readFile(join(server.dataDir, 'server', 'node-token'), 'utf8'));
    const r = await call('POST', '/h8s/v1/node-credentials', {
      token: `${token.id}.${token.secret}`,
      body: { nodeName: 'Bad_Name', clientPublicKey: publicKeyPem() },
    });
    assert.equal(r.status, 422, r.text);
    assert.equal(r.json['kind'], 'Status');
    assert.equal(r.json['reason'], 'Invalid');
    const causes = (r.json['details'] as { causes: { field: string }[] }).causes;
    assert.equal(causes[0]?.field, 'nodeName');
  });

  it("renews a node's certificate with its own certificate, for its own name only", async () => {
    const dir = join(server.dataDir, 'agent-node-b');
    const cert = await readFile(join(dir, 'client.crt'), 'utf8');
    const key = await readFile(join(dir, 'client.key'), 'utf8');
    const own = await call('POST', '/h8s/v1/node-credentials', {
      cert,
      key,
      body: { nodeName: 'node-b', clientPublicKey: publicKeyPem(), expirationSeconds: 3600 },
    });
    assert.equal(own.status, 201, own.text);
    const renewed = new X509Certificate(own.json['clientCertificate'] as string);
    assert.equal(renewed.subject, 'CN=system:node:node-b\nO=system:nodes');
    const lifetimeMs = Date.parse(renewed.validTo) - Date.parse(renewed.validFrom);
    assert.ok(lifetimeMs <= 3600_000 + 60_000, 'a shorter lifetime on request');
    assert.equal(own.json['caCertificate'], caPem);

    const other = await call('POST', '/h8s/v1/node-credentials', {
      cert,
      key,
      body: { nodeName: 'node-c', clientPublicKey: publicKeyPem() },
    });
    assert.equal(other.status, 403, other.text);
    assert.equal(other.json['reason'], 'Forbidden');

    // A serving certificate does not authenticate (its key usage is serverAuth only).
    const servingKey = await readFile(join(dir, 'serving.key'), 'utf8');
    const serving = await readFile(join(dir, 'serving.crt'), 'utf8');
    const r = await call('GET', '/api/v1/nodes/node-b', { cert: serving, key: servingKey });
    assert.equal(r.status, 401);
  });

  it('renews the certificate when a third of its lifetime is left, at start and on a timer', async () => {
    const clock = new ManualClock(Date.now());
    const token = parseJoinToken(await readFile(join(server.dataDir, 'server', 'node-token'), 'utf8'));
    const o = {
      server: url,
      token,
      nodeName: 'node-r',
      dataDir: join(server.dataDir, 'agent-node-r'),
      servingNames: ['127.0.0.1'],
      log: nullLogger,
      clock,
    };
    const first = await ensureJoinedCredentials(o);
    const lifetimeMs = first.notAfterMs - first.notBeforeMs;
    assert.ok(Math.abs(lifetimeMs - 3600_000 - 60_000) < 2_000, `the server's lifetime (${lifetimeMs} ms)`);
    assert.equal((await ensureJoinedCredentials(o)).certPem, first.certPem, 'fresh credentials are reused');

    const renewed: NodeCredentials[] = [];
    const stop = new AbortController();
    const loop = runCredentialRenewal(o, first, (c) => renewed.push(c), stop.signal);
    try {
      await waitFor(() => clock.pendingTimers > 0, { timeoutMs: 5_000 });
      clock.advance(renewAtMs(first) - clock.now() + 1_000);
      const next = await waitFor(() => renewed[0], { timeoutMs: 15_000, description: 'a renewal' });
      assert.notEqual(next.certPem, first.certPem);
      assert.equal(await readFile(join(o.dataDir, 'client.crt'), 'utf8'), next.certPem);
      assert.match(
        server.output(),
        /"Issued node credentials"[^\n]*"node":"node-r","requestedBy":"system:node:node-r"/,
      );
    } finally {
      stop.abort();
      await loop;
    }

    // An agent started when the renewal is due renews before it does anything else.
    const current = renewed[0] as NodeCredentials;
    clock.advance(renewAtMs(current) - clock.now() + 1_000);
    const atStart = await ensureJoinedCredentials(o);
    assert.notEqual(atStart.certPem, current.certPem);
  });
});

describe("the server's own agent", { timeout: 120_000 }, () => {
  let server: TestServer | undefined;
  after(async () => {
    await server?.cleanup();
  });

  it('joins with the node token and registers its Node as system:node:<name>', async () => {
    // No runtime: the agent registers its Node all the same.
    server = await startTestServer({
      disable: 'runtime,scheduler',
      extraArgs: ['--node-name', 'local-node'],
    });
    const s = server;
    try {
      await waitFor(() => s.client.resource(builtinResources.nodes).get('local-node'), {
        timeoutMs: 60_000,
        description: 'the Node of the local agent',
      });
      assert.match(
        s.output(),
        /"path":"\/h8s\/v1\/node-credentials","code":201[^\n]*"user":"system:bootstrap:/,
      );
      assert.match(s.output(), /"path":"\/api\/v1\/nodes","code":201[^\n]*"user":"system:node:local-node"/);
      const cert = new X509Certificate(await readFile(join(s.dataDir, 'agent', 'client.crt'), 'utf8'));
      assert.equal(cert.subject, 'CN=system:node:local-node\nO=system:nodes');
    } catch (err) {
      console.error(s.output().slice(-8000));
      throw err;
    }
  });
});
