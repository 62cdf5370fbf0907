import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock, nullLogger } from '../../lib/index.js';
import { openKeyValueStore, type KeyValueStore } from '../../storage/index.js';
import { encodeObject } from '../registry/object-codec.js';
import { verifyJwt } from './service-account-jwt.js';
import { ServiceAccountTokens } from './service-account-tokens.js';
import { ensureServiceAccountKey, generateServiceAccountKeyPem, signingKeyFromPem } from './signing-key.js';
import { StoredObjects } from './stored-objects.js';

const dirs: string[] = [];
const stores: KeyValueStore[] = [];
after(async () => {
  for (const s of stores) await s.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function setup(pem = generateServiceAccountKeyPem()): Promise<{
  store: KeyValueStore;
  clock: ManualClock;
  tokens: ServiceAccountTokens;
}> {
  const store = await openKeyValueStore('memory://', { log: nullLogger });
  stores.push(store);
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  await store.create(
    '/registry/core/serviceaccounts/team/robot',
    encodeObject({
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: 'robot', namespace: 'team', uid: 'sa-1' },
    }),
  );
  const tokens = new ServiceAccountTokens({
    signingKey: signingKeyFromPem(pem),
    objects: new StoredObjects({ store, clock }),
    clock,
    log: nullLogger,
  });
  return { store, clock, tokens };
}

const robot = { namespace: 'team', serviceAccount: { name: 'robot', uid: 'sa-1' } };

describe('service-account tokens', () => {
  it('are valid within their lifetime plus a minute of leeway, then expired', async () => {
    const { clock, tokens } = await setup();
    const { token, expiresAtMs } = tokens.issue({
      ...robot,
      audiences: tokens.apiAudiences,
      expirationSeconds: 600,
    });
    assert.equal(expiresAtMs, clock.now() + 600_000);
    const ok = await tokens.validate(token);
    assert.ok(ok?.isValid);
    assert.equal(ok.user.name, 'system:serviceaccount:team:robot');
    assert.equal(ok.user.uid, 'sa-1');
    clock.advance(660_000);
    assert.ok((await tokens.validate(token))?.isValid, 'within the leeway');
    clock.advance(1_000);
    assert.deepEqual(await tokens.validate(token), {
      isValid: false,
      error: 'service account token has expired',
    });
  });

  it('are checked against the wanted audiences', async () => {
    const { tokens } = await setup();
    const { token } = tokens.issue({ ...robot, audiences: ['a', 'b'], expirationSeconds: 600 });
    assert.equal((await tokens.validate(token))?.isValid, false);
    const v = await tokens.validate(token, ['b', 'c']);
    assert.ok(v?.isValid);
    assert.deepEqual(v.audiences, ['b']);
  });

  it('are not ours when another key or issuer made them', async () => {
    const pem = generateServiceAccountKeyPem();
    const a = await setup(pem);
    const b = await setup();
    const { token } = b.tokens.issue({ ...robot, audiences: b.tokens.apiAudiences, expirationSeconds: 600 });
    assert.equal(await a.tokens.validate(token), undefined);
    assert.equal(await a.tokens.validate('a.b.c'), undefined);
    assert.equal(await a.tokens.validate('not a token'), undefined);
    const elsewhere = new ServiceAccountTokens({
      signingKey: signingKeyFromPem(pem),
      issuer: 'https://elsewhere',
      objects: new StoredObjects({ store: a.store, clock: a.clock }),
      clock: a.clock,
      log: nullLogger,
    });
    const foreign = elsewhere.issue({ ...robot, audiences: a.tokens.apiAudiences, expirationSeconds: 600 });
    assert.equal(await a.tokens.validate(foreign.token), undefined);
  });

  it('are signed RS256 with an RSA key, and verify only with the header algorithm of the key', async () => {
    const pem = generateKeyPairSync('rsa', { modulusLength: 2048 })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString();
    const { tokens } = await setup(pem);
    const { token } = tokens.issue({ ...robot, audiences: tokens.apiAudiences, expirationSeconds: 600 });
    const header = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString('utf8')) as {
      alg: string;
    };
    assert.equal(header.alg, 'RS256');
    assert.ok((await tokens.validate(token))?.isValid);
    // `alg: none` with the signature removed is refused.
    const [, p] = token.split('.');
    const none = `${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')}.${p}.`;
    assert.equal(verifyJwt(tokens.verificationKeys, none), undefined);
  });

  it('die with their account (uid checked)', async () => {
    const { store, clock, tokens } = await setup();
    const { token } = tokens.issue({ ...robot, audiences: tokens.apiAudiences, expirationSeconds: 600 });
    const kv = await store.find('/registry/core/serviceaccounts/team/robot');
    await store.delete('/registry/core/serviceaccounts/team/robot', kv?.modRevision ?? 0);
    await store.create(
      '/registry/core/serviceaccounts/team/robot',
      encodeObject({
        apiVersion: 'v1',
        kind: 'ServiceAccount',
        metadata: { name: 'robot', namespace: 'team', uid: 'sa-2' },
      }),
    );
    clock.advance(3_000); // past the lookup cache
    assert.deepEqual(await tokens.validate(token), {
      isValid: false,
      error: 'service account token has been invalidated',
    });
  });
});

describe('service-account signing key', () => {
  it('is created once (0600) and reused on the next start', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'h8s-sa-key-'));
    dirs.push(dir);
    const first = await ensureServiceAccountKey(dir, { log: nullLogger });
    assert.equal(first.algorithm, 'ES256');
    assert.equal((await stat(join(dir, 'service-account.key'))).mode & 0o777, 0o600);
    const again = await ensureServiceAccountKey(dir, { log: nullLogger });
    assert.equal(again.keyId, first.keyId);
    assert.match(await readFile(join(dir, 'service-account.key'), 'utf8'), /BEGIN PRIVATE KEY/);
  });

  it('refuses a file that holds no usable key rather than replacing it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'h8s-sa-key-'));
    dirs.push(dir);
    await writeFile(join(dir, 'service-account.key'), 'garbage');
    await assert.rejects(ensureServiceAccountKey(dir, { log: nullLogger }), /move it away/);
  });
});
