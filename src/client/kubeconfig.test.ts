import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isBadRequest, isInvalid, isNotFound } from '../lib/index.js';
import { loadKubeconfig, resolveKubeconfig } from './index.js';

const ca = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

function doc(user: Record<string, unknown>, cluster: Record<string, unknown> = {}): unknown {
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'h8s', cluster: { server: 'https://127.0.0.1:6443', ...cluster } }],
    users: [{ name: 'admin', user }],
    contexts: [{ name: 'default', context: { cluster: 'h8s', user: 'admin', namespace: 'team' } }],
    'current-context': 'default',
    preferences: {},
  };
}

describe('kubeconfig', () => {
  it('resolves the current context with an inline CA and token', async () => {
    const creds = await resolveKubeconfig(
      doc({ token: 'abc' }, { 'certificate-authority-data': Buffer.from(ca).toString('base64') }),
      '/nonexistent',
    );
    assert.deepEqual(creds, { server: 'https://127.0.0.1:6443', caPem: ca, token: 'abc', namespace: 'team' });
  });

  it('reads a kubeconfig file with files named relative to it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'h8s-kubeconfig-'));
    try {
      await writeFile(join(dir, 'ca.crt'), ca);
      await writeFile(join(dir, 'token'), 'from-file\n');
      await writeFile(
        join(dir, 'config.yaml'),
        [
          'apiVersion: v1',
          'kind: Config',
          'clusters:',
          '- name: c',
          '  cluster: {server: "https://[::1]:7443", certificate-authority: ca.crt}',
          'users:',
          '- name: u',
          '  user: {tokenFile: token}',
          'contexts:',
          '- name: x',
          '  context: {cluster: c, user: u}',
          'current-context: x',
        ].join('\n'),
      );
      const creds = await loadKubeconfig(join(dir, 'config.yaml'));
      assert.equal(creds.caPem, ca);
      assert.equal(creds.token, 'from-file');
      assert.equal(creds.server, 'https://[::1]:7443');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('names what is missing or unusable', async () => {
    await assert.rejects(loadKubeconfig('/nonexistent/kubeconfig.yaml'), isNotFound);
    await assert.rejects(resolveKubeconfig({ clusters: 'nope' }, '/'), isInvalid);
    await assert.rejects(resolveKubeconfig(doc({}), '/', { context: 'other' }), /no context "other"/);
    await assert.rejects(resolveKubeconfig(doc({ exec: { command: 'h8s' } }), '/'), isBadRequest);
    await assert.rejects(
      resolveKubeconfig(doc({}, { 'certificate-authority-data': '%%%' }), '/'),
      /certificate-authority-data is not base64/,
    );
  });
});
