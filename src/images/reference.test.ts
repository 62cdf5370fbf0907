import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isInvalid } from '../lib/index.js';
import { familiarName, isLoopbackRegistry, parseReference } from './reference.js';

describe('parseReference', () => {
  it('normalises Docker Hub names as docker does', () => {
    assert.deepEqual(parseReference('busybox'), {
      registry: 'docker.io',
      repository: 'library/busybox',
      tag: 'latest',
    });
    assert.deepEqual(parseReference('team/app:v1'), {
      registry: 'docker.io',
      repository: 'team/app',
      tag: 'v1',
    });
    assert.deepEqual(parseReference('index.docker.io/library/busybox:1.36'), {
      registry: 'docker.io',
      repository: 'library/busybox',
      tag: '1.36',
    });
  });

  it('reads registries with ports, tags and digests', () => {
    const d = 'sha256:' + 'a'.repeat(64);
    assert.deepEqual(parseReference('127.0.0.1:5000/team/app:v1'), {
      registry: '127.0.0.1:5000',
      repository: 'team/app',
      tag: 'v1',
    });
    assert.deepEqual(parseReference(`localhost/app@${d}`), {
      registry: 'localhost',
      repository: 'app',
      digest: d,
    });
    assert.deepEqual(parseReference(`reg.example/app:v2@${d}`), {
      registry: 'reg.example',
      repository: 'app',
      tag: 'v2',
      digest: d,
    });
  });

  it('rejects malformed references with Invalid', () => {
    for (const bad of [
      '',
      'UPPER/case',
      'app@sha256:short',
      'app:bad tag',
      'a//b',
      '-x',
      'app@md5:' + 'a'.repeat(32),
      'x'.repeat(5000),
    ]) {
      assert.throws(
        () => parseReference(bad),
        (err) => isInvalid(err),
        bad,
      );
    }
  });

  it('shows familiar names and knows loopback registries', () => {
    assert.equal(familiarName('docker.io', 'library/busybox'), 'busybox');
    assert.equal(familiarName('127.0.0.1:5000', 'busybox'), '127.0.0.1:5000/busybox');
    assert.equal(isLoopbackRegistry('127.0.0.1:5000'), true);
    assert.equal(isLoopbackRegistry('127.8.9.10'), true);
    assert.equal(isLoopbackRegistry('localhost:5000'), true);
    assert.equal(isLoopbackRegistry('10.0.0.1:5000'), false);
    assert.equal(isLoopbackRegistry('127.0.0.1.evil.example'), false);
  });
});
