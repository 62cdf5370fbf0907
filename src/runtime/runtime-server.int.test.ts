import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { request } from 'node:http';
import { execFile, isNotFound } from '../lib/index.js';
import { socketPathOf } from './runtime-server.js';
import { startTestRuntime, type TestRuntime } from './testing/test-runtime.js';

/** One raw HTTP exchange on the daemon's socket. */
function http(
  socketPath: string,
  method: string,
  path: string,
  body?: string | Buffer,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Sends raw bytes and returns what comes back until the daemon closes. */
function raw(socketPath: string, data: Buffer | string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(socketPath);
    let got = '';
    s.on('data', (c) => (got += c.toString()));
    s.on('close', () => resolve(got));
    s.on('error', () => resolve(got));
    s.write(data);
    setTimeout(() => s.end(), 500);
  });
}

describe('runtime API robustness', () => {
  let d: TestRuntime;
  let sock = '';

  before(async () => {
    d = await startTestRuntime({ handlers: ['runc'], pullBusybox: false });
    sock = socketPathOf(d.endpoint);
  });

  after(async () => {
    await d?.stop();
  });

  it('answers curl on the unix socket', async () => {
    const r = await execFile(['curl', '-sS', '--unix-socket', sock, 'http://runtime/v1/info'], {
      timeoutMs: 30_000,
    });
    const info = JSON.parse(r.stdout) as {
      handlers: { name: string; available: boolean }[];
      rootDir: string;
    };
    assert.equal(info.rootDir, d.root);
    assert.ok(info.handlers.some((h) => h.name === 'runc' && h.available));
  });

  it('serves Prometheus metrics: requests by route template and code, objects by state', async () => {
    await http(sock, 'GET', '/v1/info');
    await http(sock, 'GET', '/v1/sandboxes/no-such-id');
    const r = await http(sock, 'GET', '/metrics');
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    assert.match(r.body, /^h8s_runtime_requests_total\{method="GET",route="\/v1\/info",code="200"\} [1-9]/m);
    // a path with an id is counted under its template, so ids never become label values
    assert.match(
      r.body,
      /^h8s_runtime_requests_total\{method="GET",route="\/v1\/sandboxes\/\{id\}",code="404"\} 1$/m,
    );
    assert.doesNotMatch(r.body, /no-such-id/);
    assert.match(r.body, /^# TYPE h8s_runtime_sandboxes gauge$/m);
    assert.match(r.body, /^# TYPE h8s_runtime_request_duration_seconds histogram$/m);
  });

  it('refuses malformed and oversized requests with JSON errors', async () => {
    const json = { 'Content-Type': 'application/json' };
    let r = await http(sock, 'POST', '/v1/sandboxes', '{"config": ', json);
    assert.equal(r.status, 422);
    assert.equal(JSON.parse(r.body).code, 'Invalid');
    r = await http(
      sock,
      'POST',
      '/v1/sandboxes',
      JSON.stringify({ config: { metadata: { name: 'x' } } }),
      json,
    );
    assert.equal(r.status, 422);
    const body = JSON.parse(r.body) as { details: { causes: { field: string }[] } };
    assert.ok(
      body.details.causes.some((c) => c.field.startsWith('config.metadata')),
      r.body,
    );
    r = await http(sock, 'POST', '/v1/sandboxes', JSON.stringify({ config: {}, extra: true }), json);
    assert.equal(r.status, 422);
    r = await http(sock, 'POST', '/v1/sandboxes', Buffer.alloc(5 * 1024 * 1024, 32), json);
    assert.equal(r.status, 413);
    assert.equal(JSON.parse(r.body).code, 'RequestEntityTooLarge');
    r = await http(sock, 'POST', '/v1/sandboxes', 'a=b', {
      'Content-Type': 'application/x-www-form-urlencoded',
    });
    assert.equal(r.status, 415);
    r = await http(sock, 'GET', '/v1/nothing');
    assert.equal(r.status, 404);
    assert.equal(JSON.parse(r.body).code, 'NotFound');
    r = await http(sock, 'PATCH', '/v1/sandboxes');
    assert.equal(r.status, 405);
    r = await http(sock, 'GET', '/v1/sandboxes?state=SIDEWAYS');
    assert.equal(r.status, 400);
    r = await http(sock, 'GET', `/v1/containers/${'0'.repeat(64)}`);
    assert.equal(r.status, 404);
    r = await http(sock, 'GET', '/v1/containers/abc');
    assert.equal(r.status, 404, 'a short non-matching prefix is simply not found');
  });

  it('refuses a stream before switching protocols, and survives garbage and bad frames', async () => {
    const refused = await raw(
      sock,
      `POST /v1/containers/${'0'.repeat(64)}/exec?cmd=sh HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h8s-stream.v1\r\n\r\n`,
    );
    assert.match(refused, /^HTTP\/1.1 404/);
    assert.match(refused, /"code":"NotFound"/);
    const wrongProtocol = await raw(
      sock,
      `GET /v1/containers/x/logs HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`,
    );
    assert.match(wrongProtocol, /^HTTP\/1.1 400/);
    const garbage = await raw(sock, Buffer.from([0, 1, 2, 3, 255, 254, 13, 10, 13, 10]));
    assert.match(garbage, /400 Bad Request/);
    await assert.rejects(d.client.podSandboxStatus('f'.repeat(64)), (e: unknown) => isNotFound(e));
    assert.equal((await http(sock, 'GET', '/_ping')).body, 'OK');
  });

  it('maps errors back to the same codes through the client', async () => {
    await assert.rejects(d.client.containerStatus('1'.repeat(64)), (e: unknown) => isNotFound(e));
    await assert.rejects(
      d.client.runPodSandbox(
        { metadata: { name: 'p', uid: 'u', namespace: 'n', attempt: 0 }, security: { privileged: true } },
        'hyper',
      ),
      (e: unknown) =>
        (e as { code?: string }).code === 'Forbidden' && /use the runc handler/.test((e as Error).message),
    );
  });
});
