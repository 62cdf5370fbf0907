import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  bootstrapTokenSecret,
  formatJoinToken,
  generateBootstrapToken,
  isJoinToken,
  parseJoinToken,
  parseTtlMs,
} from './join-token.js';

const hash = 'ab'.repeat(32);

describe('join tokens', () => {
  it('parses K10<hash>::<id>.<secret> and formats it back', () => {
    const text = `K10${hash}::abc123.0123456789abcdef`;
    const token = parseJoinToken(`  ${text}\n`);
    assert.deepEqual(token, { caHash: hash, id: 'abc123', secret: '0123456789abcdef' });
    assert.equal(formatJoinToken(token), text);
  });

  it('accepts an upper-case CA hash and keeps it in lower case', () => {
    assert.equal(parseJoinToken(`K10${hash.toUpperCase()}::abc123.0123456789abcdef`).caHash, hash);
  });

  it('names the part that is wrong without echoing the secret', () => {
    assert.throws(() => parseJoinToken('abc123.0123456789abcdef'), /does not start with "K10"/);
    assert.throws(() => parseJoinToken(`K10${hash}abc123.0123456789abcdef`), /expected K10<CA hash>::/);
    assert.throws(() => parseJoinToken(`K10${hash.slice(2)}::abc123.0123456789abcdef`), /64 hexadecimal/);
    for (const bad of [
      'abc12.0123456789abcdef',
      'ABC123.0123456789abcdef',
      'abc123.0123456789abcde',
      'abc123',
    ]) {
      assert.throws(
        () => parseJoinToken(`K10${hash}::${bad}`),
        (err: Error) => /6 and 16 characters/.test(err.message) && !err.message.includes('0123456789abcde'),
      );
    }
  });

  it('tells join tokens from plain bearer tokens', () => {
    assert.equal(isJoinToken(`K10${hash}::abc123.0123456789abcdef\n`), true);
    assert.equal(isJoinToken('3f2a9c0d'), false);
  });

  it('generates ids of 6 and secrets of 16 characters of a-z and 0-9', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const { id, secret } = generateBootstrapToken();
      assert.match(id, /^[a-z0-9]{6}$/);
      assert.match(secret, /^[a-z0-9]{16}$/);
      seen.add(id);
    }
    assert.ok(seen.size > 45);
  });

  it('parses ttls as sums of days, hours, minutes and seconds, 0 meaning forever', () => {
    assert.equal(parseTtlMs('24h'), 24 * 3600_000);
    assert.equal(parseTtlMs('1h30m'), 5400_000);
    assert.equal(parseTtlMs('2d'), 2 * 86400_000);
    assert.equal(parseTtlMs('90s'), 90_000);
    assert.equal(parseTtlMs('0'), 0);
    for (const bad of ['', '1x', 'h', '-1h', '0h']) assert.throws(() => parseTtlMs(bad), /Invalid ttl/);
  });

  it('writes the Secret kubeadm writes for a bootstrap token', () => {
    const s = bootstrapTokenSecret({
      id: 'abc123',
      secret: '0123456789abcdef',
      description: 'second node',
      expiresMs: Date.parse('2030-01-02T03:04:05Z'),
    });
    assert.equal(s.metadata.name, 'bootstrap-token-abc123');
    assert.equal(s.metadata.namespace, 'kube-system');
    assert.equal(s['type'], 'bootstrap.kubernetes.io/token');
    const data = Object.fromEntries(
      Object.entries(s['data'] as Record<string, string>).map(([k, v]) => [
        k,
        Buffer.from(v, 'base64').toString(),
      ]),
    );
    assert.equal(data['token-id'], 'abc123');
    assert.equal(data['token-secret'], '0123456789abcdef');
    assert.equal(data['usage-bootstrap-authentication'], 'true');
    assert.equal(data['expiration'], '2030-01-02T03:04:05Z');
    assert.equal(data['description'], 'second node');
    const forever = bootstrapTokenSecret({ id: 'abc123', secret: '0123456789abcdef', description: '' });
    assert.equal((forever['data'] as Record<string, string>)['expiration'], undefined);
  });
});
