import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPublicKey } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nullLogger, systemClock } from '../../lib/index.js';
import { sha256 } from '../filters/authentication.js';
import { ensureAdminCredentials, serverUrl, tokenFromKubeconfig } from './admin-credentials.js';
import { ensureServingCertificates, servingNames } from './certificates.js';

const deps = { clock: systemClock, log: nullLogger };

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'h8s-apiserver-creds-'));
  try {
    await fn(dir);
  } catch (err) {
    console.error(`temp dir ${dir}`);
    throw err;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('server certificates', () => {
  it('creates a CA and a serving certificate for every name clients use, keys 0600', () =>
    withDir(async (dir) => {
      const names = servingNames('10.1.2.3', 'node-a', ['api.example.com']);
      const certs = await ensureServingCertificates(dir, names, deps);
      const cert = new X509Certificate(certs.cert);
      for (const ip of ['127.0.0.1', '::1', '10.1.2.3']) assert.ok(cert.checkIP(ip), ip);
      for (const dns of ['localhost', 'node-a', 'api.example.com']) assert.ok(cert.checkHost(dns), dns);
      assert.ok(cert.verify(createPublicKey(certs.caCert)), 'signed by the CA');
      const ca = new X509Certificate(certs.caCert);
      assert.ok(ca.ca, 'the CA is a CA');
      assert.equal((await stat(join(dir, 'server-ca.key'))).mode & 0o777, 0o600);
      assert.equal((await stat(join(dir, 'serving.key'))).mode & 0o777, 0o600);
    }));

  it('keeps both on restart and reissues only the serving certificate for a new name', () =>
    withDir(async (dir) => {
      const first = await ensureServingCertificates(dir, servingNames('127.0.0.1', 'h'), deps);
      const again = await ensureServingCertificates(dir, servingNames('127.0.0.1', 'h'), deps);
      assert.equal(again.cert, first.cert);
      const moved = await ensureServingCertificates(dir, servingNames('192.168.7.7', 'h'), deps);
      assert.notEqual(moved.cert, first.cert);
      assert.equal(moved.caCert, first.caCert, 'the CA stays');
      assert.ok(new X509Certificate(moved.cert).checkIP('192.168.7.7'));
    }));
});

describe('admin credentials', () => {
  it('writes a 0600 kubeconfig with the CA and a token the server knows only by digest', () =>
    withDir(async (dir) => {
      const creds = await ensureAdminCredentials(
        dir,
        { server: serverUrl('0.0.0.0', 6443), caCertPem: 'CA' },
        { log: nullLogger },
      );
      const text = await readFile(creds.kubeconfigPath, 'utf8');
      assert.match(text, /server: https:\/\/127\.0\.0\.1:6443/);
      assert.match(text, new RegExp(`certificate-authority-data: ${Buffer.from('CA').toString('base64')}`));
      assert.equal((await stat(creds.kubeconfigPath)).mode & 0o777, 0o600);
      const token = tokenFromKubeconfig(text) as string;
      assert.match(token, /^[0-9a-f]{64}$/);
      assert.deepEqual(creds.tokenSha256, sha256(token));
      const digest = await readFile(join(dir, 'server', 'cred', 'admin-token.sha256'), 'utf8');
      assert.equal(digest.trim(), sha256(token).toString('hex'));
      assert.ok(!digest.includes(token));
    }));

  it('keeps the token across restarts and issues a new one when the kubeconfig is gone', () =>
    withDir(async (dir) => {
      const a = await ensureAdminCredentials(
        dir,
        { server: 'https://127.0.0.1:1', caCertPem: 'CA' },
        { log: nullLogger },
      );
      const b = await ensureAdminCredentials(
        dir,
        { server: 'https://127.0.0.1:2', caCertPem: 'CA' },
        { log: nullLogger },
      );
      assert.deepEqual(a.tokenSha256, b.tokenSha256);
      assert.match(await readFile(b.kubeconfigPath, 'utf8'), /:2$/m);
      await rm(b.kubeconfigPath);
      const c = await ensureAdminCredentials(
        dir,
        { server: 'https://127.0.0.1:2', caCertPem: 'CA' },
        { log: nullLogger },
      );
      assert.notDeepEqual(c.tokenSha256, a.tokenSha256);
    }));

  it('builds server URLs for wildcard and IPv6 bind addresses', () => {
    assert.equal(serverUrl('0.0.0.0', 6443), 'https://127.0.0.1:6443');
    assert.equal(serverUrl('::', 6443), 'https://[::1]:6443');
    assert.equal(serverUrl('fd00::5', 6443), 'https://[fd00::5]:6443');
    assert.equal(serverUrl('10.0.0.2', 7000), 'https://10.0.0.2:7000');
  });
});
