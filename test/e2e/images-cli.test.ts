/**
 * hyperctl image commands (src/cli/images) end to end: the real image service, a real
 * registry on loopback (plain and htpasswd), a temp credentials file.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nullLogger } from '../../src/lib/index.js';
import { createImageService, type LocalImageService } from '../../src/images/index.js';
import { pushBusybox, startTestRegistry, type TestRegistry } from '../../src/images/testing/index.js';
import { imageCommands, type CommandIO } from '../../src/cli/images/index.js';

let tmp: string;
let reg: TestRegistry;
let authReg: TestRegistry;
let images: LocalImageService;
let ref: string;

function io(
  opts: { tty?: boolean; stdin?: string | Buffer } = {},
): CommandIO & { out: () => string; err: () => string } {
  const out: (string | Uint8Array)[] = [];
  const err: string[] = [];
  return {
    stdout: { write: (c: string | Uint8Array) => out.push(c) },
    stderr: { write: (c: string) => err.push(c) },
    isTTY: opts.tty ?? false,
    ...(opts.stdin !== undefined
      ? { stdin: [Buffer.from(opts.stdin)] as Iterable<Buffer> as unknown as AsyncIterable<Buffer> }
      : {}),
    authConfigPath: join(tmp, 'docker', 'config.json'),
    tmpDir: tmp,
    now: () => Date.parse('2026-01-01T00:00:00Z'),
    out: () => out.map((c) => (typeof c === 'string' ? c : Buffer.from(c).toString('latin1'))).join(''),
    err: () => err.join(''),
  };
}

async function run(name: string, argv: string[], o = io()) {
  const code = await imageCommands[name]!.run(images, argv, o);
  return { code, out: o.out(), err: o.err() };
}

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'h8s-images-cli-'));
  [reg, authReg] = await Promise.all([startTestRegistry(), startTestRegistry({ auth: 'htpasswd' })]);
  ({ ref } = await pushBusybox(reg.host));
  await pushBusybox(authReg.host, 'private/busybox:v1', {
    auth: { username: authReg.username, password: authReg.password },
  });
  images = await createImageService({ root: join(tmp, 'store'), log: nullLogger });
});

after(async () => {
  await Promise.all([reg?.stop(), authReg?.stop()]);
  await rm(tmp, { recursive: true, force: true });
});

describe('hyperctl image commands', { concurrency: 1 }, () => {
  it('pull prints docker-style lines without a terminal', async () => {
    const r = await run('pull', [`${reg.host}/busybox`]);
    assert.equal(r.code, 0, r.err);
    const lines = r.out.trim().split('\n');
    assert.equal(lines[0], 'Using default tag: latest');
    assert.equal(lines[1], `latest: Pulling from ${reg.host}/busybox`);
    assert.match(r.out, /^[a-f0-9]{12}: Pulling fs layer$/m);
    assert.match(r.out, /^[a-f0-9]{12}: Download complete$/m);
    assert.match(r.out, /^[a-f0-9]{12}: Pull complete$/m);
    assert.match(r.out, /^Digest: sha256:[a-f0-9]{64}$/m);
    assert.match(r.out, new RegExp(`^Status: Downloaded newer image for ${reg.host}/busybox:latest$`, 'm'));
    assert.ok(!r.out.includes('\x1b['), 'no escape sequences');
    const again = await run('pull', [ref]);
    assert.match(again.out, /Already exists/);
    assert.match(again.out, /Status: Image is up to date for/);
  });

  it('pull draws progress bars in place on a terminal', async () => {
    await images.removeImage(ref);
    const r = await run('pull', [ref], io({ tty: true }));
    assert.equal(r.code, 0, r.err);
    assert.ok(/\[\d+A/.test(r.out) && r.out.includes('\x1b['), 'cursor-up sequences');
    assert.match(r.out, /Pull complete/);
  });

  it('pull reports a missing image and a bad reference clearly', async () => {
    const missing = await run('pull', [`${reg.host}/nope:v9`]);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /^hyperctl pull: Cannot pull ".*nope:v9": not found in registry/);
    const bad = await run('pull', ['UPPER/Case']);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /Invalid image reference "UPPER\/Case"/);
    const usage = await run('pull', []);
    assert.equal(usage.code, 2);
    assert.match(usage.err, /requires exactly 1 argument\nUsage: hyperctl pull/);
  });

  it('images lists REPOSITORY TAG IMAGE ID CREATED SIZE, and -q the IDs', async () => {
    const r = await run('images', []);
    assert.equal(r.code, 0);
    const [header, row] = r.out.split('\n');
    assert.match(header!, /^REPOSITORY\s{3,}TAG\s{3,}IMAGE ID\s{3,}CREATED\s{3,}SIZE$/);
    assert.match(
      row!,
      new RegExp(`^${reg.host}/busybox\\s+latest\\s+[a-f0-9]{12}\\s+2 years ago\\s+[\\d.]+MB$`),
    );
    const q = await run('images', ['-q']);
    assert.match(q.out, /^[a-f0-9]{12}\n$/);
    const filtered = await run('images', [`${reg.host}/other`]);
    assert.equal(filtered.out.trim().split('\n').length, 1);
  });

  it('save writes a tarball and load reads it back', async () => {
    const file = join(tmp, 'busybox.tar');
    const s = await run('save', ['-o', file, ref]);
    assert.equal(s.code, 0, s.err);
    assert.ok((await stat(file)).size > 500_000);
    const refused = await run('save', [ref], io({ tty: true }));
    assert.equal(refused.code, 1);
    assert.match(refused.err, /refusing to save to a terminal/);
    const rm1 = await run('rmi', [ref]);
    assert.equal(rm1.code, 0, rm1.err);
    assert.match(rm1.out, new RegExp(`^Untagged: ${reg.host}/busybox:latest$`, 'm'));
    assert.match(rm1.out, /^Deleted: sha256:[a-f0-9]{64}$/m);
    const l = await run('load', ['-i', file]);
    assert.equal(l.code, 0, l.err);
    assert.equal(l.out, `Loaded image: ${reg.host}/busybox:latest\n`);
    const fromStdin = await run('load', [], io({ stdin: await readFile(file) }));
    assert.equal(fromStdin.code, 0, fromStdin.err);
    const bad = await run('load', ['-i', join(tmp, 'nothing.tar')]);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /does not exist/);
  });

  it('rmi refuses unknown images and continues with the rest', async () => {
    const r = await run('rmi', [`${reg.host}/ghost:v1`, ref]);
    assert.equal(r.code, 1);
    assert.match(r.err, /Image ".*ghost:v1" not found locally/);
    assert.match(r.out, /Deleted:/);
  });

  it('login checks and stores credentials, pull uses them, logout removes them', async () => {
    const denied = await run('pull', [`${authReg.host}/private/busybox:v1`]);
    assert.equal(denied.code, 1);
    assert.match(denied.err, /requires authentication; run "hyperctl login/);
    const wrong = await run('login', ['-u', authReg.username, '-p', 'wrong', authReg.host]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.err, /rejected the credentials/);
    const ok = await run(
      'login',
      ['-u', authReg.username, '--password-stdin', authReg.host],
      io({ stdin: authReg.password + '\n' }),
    );
    assert.equal(ok.code, 0, ok.err);
    assert.equal(ok.out, 'Login Succeeded\n');
    const cfg = JSON.parse(await readFile(join(tmp, 'docker', 'config.json'), 'utf8')) as {
      auths: Record<string, { auth: string }>;
    };
    assert.equal(
      Buffer.from(cfg.auths[authReg.host]!.auth, 'base64').toString(),
      `${authReg.username}:${authReg.password}`,
    );
    assert.equal((await stat(join(tmp, 'docker', 'config.json'))).mode & 0o777, 0o600);
    const pulled = await run('pull', [`${authReg.host}/private/busybox:v1`]);
    assert.equal(pulled.code, 0, pulled.err);
    const out = await run('logout', [authReg.host]);
    assert.equal(out.out, `Removing login credentials for ${authReg.host}\n`);
    const again = await run('logout', [authReg.host]);
    assert.equal(again.out, `Not logged in to ${authReg.host}\n`);
  });

  it('login keeps other entries of an existing config.json and rejects a corrupt one', async () => {
    await writeFile(
      join(tmp, 'docker', 'config.json'),
      JSON.stringify({ auths: { 'other.example': { auth: 'eDp5' } }, psFormat: 'x' }),
    );
    const ok = await run('login', ['-u', authReg.username, '-p', authReg.password, authReg.host]);
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.err, /WARNING! Using --password via the CLI is insecure/);
    const cfg = JSON.parse(await readFile(join(tmp, 'docker', 'config.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    assert.equal(cfg['psFormat'], 'x');
    assert.deepEqual(Object.keys(cfg['auths'] as object).sort(), [authReg.host, 'other.example']);
    await writeFile(join(tmp, 'docker', 'config.json'), '{not json');
    const bad = await run('login', ['-u', authReg.username, '-p', authReg.password, authReg.host]);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /Invalid credentials file/);
  });
});
