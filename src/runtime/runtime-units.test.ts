import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { errorCode, isForbidden } from '../lib/index.js';
import { chooseHandler } from './runtime-core.js';
import { FrameDecoder, channel, encodeData, encodeFrame, maxFramePayloadBytes } from './stream-frames.js';
import { errorBody, errorFromBody } from './wire-errors.js';
import { KeyedMutex } from './keyed-mutex.js';
import { buildSeccompProfile } from './runc/seccomp-profile.js';
import { resolveCapabilities, defaultCapabilities } from './runc/capabilities.js';
import { buildArgs, buildEnv, isNamespacedSysctl } from './runc/oci-spec.js';
import { notFound, invalid, internal } from '../lib/index.js';
import type { PodSandboxConfig } from './runtime-service.js';

const pod = (security?: PodSandboxConfig['security']): PodSandboxConfig => ({
  metadata: { name: 'p', uid: 'u', namespace: 'n', attempt: 0 },
  ...(security ? { security } : {}),
});

describe('handler routing (frakti rule)', () => {
  it('sends privileged and host-network pods to runc when no handler is named', () => {
    assert.equal(chooseHandler(pod({ privileged: true }), undefined, 'hyper'), 'runc');
    assert.equal(chooseHandler(pod({ hostNetwork: true }), '', 'hyper'), 'runc');
    assert.equal(chooseHandler(pod({ hostPid: true }), undefined, 'hyper'), 'runc');
    assert.equal(chooseHandler(pod(), undefined, 'hyper'), 'hyper');
    assert.equal(chooseHandler(pod(), 'runc', 'hyper'), 'runc');
  });

  it('refuses host access on the hyper handler with Forbidden naming what was asked', () => {
    assert.throws(
      () => chooseHandler(pod({ privileged: true, hostNetwork: true }), 'hyper', 'hyper'),
      (err: unknown) =>
        isForbidden(err) && /privileged mode and the host network/.test((err as Error).message),
    );
  });
});

describe('stream frames', () => {
  it('round-trips frames split at any byte', () => {
    const data = Buffer.concat([
      encodeFrame(channel.stdout, Buffer.from('hello')),
      encodeFrame(channel.close, Uint8Array.of(channel.stdin)),
      ...encodeData(channel.stderr, Buffer.alloc(maxFramePayloadBytes + 5, 1)),
    ]);
    const d = new FrameDecoder();
    const frames = [];
    for (let i = 0; i < data.length; i += 7) frames.push(...d.push(data.subarray(i, i + 7)));
    assert.deepEqual(
      frames.map((f) => [f.channel, f.payload.length]),
      [
        [1, 5],
        [255, 1],
        [2, maxFramePayloadBytes],
        [2, 5],
      ],
    );
    assert.equal(d.pendingBytes, 0);
  });

  it('refuses a frame over the size cap instead of buffering it', () => {
    const header = Buffer.alloc(5);
    header.writeUInt8(0, 0);
    header.writeUInt32BE(maxFramePayloadBytes + 1, 1);
    assert.throws(
      () => new FrameDecoder().push(header),
      (err: unknown) => errorCode(err) === 'BadRequest',
    );
  });
});

describe('wire errors', () => {
  it('keeps codes and details across the wire and hides internal errors', () => {
    const e = errorFromBody(404, errorBody(notFound('No container "x"')).body);
    assert.equal(e.code, 'NotFound');
    assert.equal(e.message, 'No container "x"');
    const inv = errorBody(
      invalid('bad', { details: { causes: [{ reason: 'R', message: 'm', field: 'f' }] } }),
    );
    assert.equal(inv.status, 422);
    assert.equal(errorFromBody(422, inv.body).details.causes?.[0]?.field, 'f');
    const hidden = errorBody(internal('secret path /etc/x'));
    assert.equal(hidden.status, 500);
    assert.doesNotMatch(hidden.body.message, /secret/);
    assert.equal(errorFromBody(500, { code: 'Bogus', message: 'x' }).code, 'InternalError');
  });
});

describe('keyed mutex', () => {
  it('serialises one key and runs different keys in parallel', async () => {
    const m = new KeyedMutex();
    const order: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const a1 = m.run('a', async () => {
      await gate;
      order.push('a1');
    });
    const a2 = m.run('a', async () => {
      order.push('a2');
    });
    await m.run('b', async () => {
      order.push('b');
    });
    release();
    await Promise.all([a1, a2]);
    assert.deepEqual(order, ['b', 'a1', 'a2']);
  });
});

describe('runc bundle pieces', () => {
  it('allows only safe syscalls by default and opens mount and namespaces with CAP_SYS_ADMIN', () => {
    const names = (caps: readonly string[]) =>
      new Set(
        buildSeccompProfile(caps)
          .syscalls.filter((r) => r.action === 'SCMP_ACT_ALLOW' && !r.args)
          .flatMap((r) => r.names),
      );
    const def = names(defaultCapabilities);
    for (const s of ['read', 'write', 'execve', 'socket', 'chroot']) assert.ok(def.has(s), s);
    for (const s of [
      'mount',
      'umount2',
      'unshare',
      'setns',
      'keyctl',
      'kexec_load',
      'init_module',
      'bpf',
      'reboot',
    ]) {
      assert.ok(!def.has(s), s);
    }
    const admin = names([...defaultCapabilities, 'CAP_SYS_ADMIN']);
    assert.ok(admin.has('mount') && admin.has('unshare') && admin.has('clone'));
    const profile = buildSeccompProfile(defaultCapabilities);
    assert.equal(profile.defaultAction, 'SCMP_ACT_ERRNO');
    assert.ok(
      profile.syscalls.some((r) => r.names.includes('clone') && r.args?.[0]?.op === 'SCMP_CMP_MASKED_EQ'),
    );
  });

  it('applies capability add/drop with ALL and refuses unknown names', () => {
    assert.ok(resolveCapabilities(['NET_ADMIN']).capabilities.includes('CAP_NET_ADMIN'));
    assert.ok(!resolveCapabilities([], ['chown']).capabilities.includes('CAP_CHOWN'));
    assert.deepEqual(resolveCapabilities(['NET_BIND_SERVICE'], ['ALL']).capabilities, [
      'CAP_NET_BIND_SERVICE',
    ]);
    assert.equal(resolveCapabilities(['FLY']).causes[0]?.field, 'security.capabilities.addCapabilities[0]');
  });

  it('builds argv and env as Kubernetes does', () => {
    const image = { entrypoint: ['/ep'], cmd: ['a', 'b'] };
    assert.deepEqual(buildArgs({ metadata: { name: 'c', attempt: 0 }, image: 'i' }, image), [
      '/ep',
      'a',
      'b',
    ]);
    assert.deepEqual(buildArgs({ metadata: { name: 'c', attempt: 0 }, image: 'i', args: ['x'] }, image), [
      '/ep',
      'x',
    ]);
    assert.deepEqual(buildArgs({ metadata: { name: 'c', attempt: 0 }, image: 'i', command: ['sh'] }, image), [
      'sh',
    ]);
    const env = buildEnv(['A=1', 'PATH=/bin'], [{ key: 'A', value: '2' }], {
      hostname: 'h',
      home: '/root',
      tty: true,
    });
    assert.deepEqual(env, ['PATH=/bin', 'A=2', 'HOSTNAME=h', 'HOME=/root', 'TERM=xterm']);
  });

  it('accepts only namespaced sysctls', () => {
    assert.ok(isNamespacedSysctl('net.ipv4.ip_forward', false, false));
    assert.ok(!isNamespacedSysctl('net.ipv4.ip_forward', true, false));
    assert.ok(isNamespacedSysctl('kernel.shmmax', false, false));
    assert.ok(!isNamespacedSysctl('kernel.panic', false, false));
    assert.ok(!isNamespacedSysctl('vm.overcommit_memory', false, false));
  });
});
