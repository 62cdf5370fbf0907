import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  GuestFrameDecoder,
  ProtocolViolation,
  encodeFrame,
  encodeJson,
  frameKind,
  headerBytes,
  maxGuestPayloadBytes,
  parseGuestJson,
  ExitEventSchema,
} from './protocol.js';

const hello = encodeJson(frameKind.hello, 0, 0, { version: 1 });

test('the decoder skips stale bytes before the first HELLO, then splits frames', () => {
  const d = new GuestFrameDecoder();
  const stale = Buffer.from('garbage from an earlier connection \x48\x38\x07');
  const data = encodeFrame(frameKind.data, 7, 10n, Buffer.from('abc'));
  const all = Buffer.concat([stale, hello, data]);
  const frames = [];
  for (let i = 0; i < all.length; i += 5) frames.push(...d.push(all.subarray(i, i + 5)));
  assert.deepEqual(
    frames.map((f) => [f.kind, f.id, f.aux, f.payload.toString()]),
    [
      [frameKind.hello, 0, 0n, '{"version":1}'],
      [frameKind.data, 7, 10n, 'abc'],
    ],
  );
  assert.equal(d.skippedBytes, stale.length);
});

test('the decoder rejects bad magic, host-only kinds, reserved bits and oversized frames', () => {
  const cases: [string, Buffer][] = [
    ['magic', Buffer.concat([hello, Buffer.alloc(headerBytes, 0x41)])],
    ['request kind', Buffer.concat([hello, encodeFrame(frameKind.request, 1, 0)])],
    [
      'reserved',
      Buffer.concat([
        hello,
        (() => {
          const b = encodeFrame(frameKind.data, 1, 0);
          b.writeUInt8(1, 3);
          return b;
        })(),
      ]),
    ],
    [
      'oversized',
      Buffer.concat([
        hello,
        (() => {
          const b = encodeFrame(frameKind.event, 0, 1);
          b.writeUInt32BE(maxGuestPayloadBytes + 1, 16);
          return b;
        })(),
      ]),
    ],
  ];
  for (const [name, bytes] of cases) {
    const d = new GuestFrameDecoder();
    assert.throws(() => d.push(bytes), ProtocolViolation, name);
  }
});

test('an oversized frame is refused from its header, before its payload is buffered', () => {
  const d = new GuestFrameDecoder();
  d.push(hello);
  const h = encodeFrame(frameKind.data, 1, 0);
  h.writeUInt32BE(0x7fffffff, 16);
  assert.throws(() => d.push(h), /exceeds/);
});

test('a guest that never says HELLO is cut off after 4 MiB of noise', () => {
  const d = new GuestFrameDecoder();
  const noise = Buffer.alloc(1024 * 1024, 0x55);
  assert.throws(() => {
    for (let i = 0; i < 5; i++) d.push(noise);
  }, /No HELLO/);
});

test('guest JSON is schema-checked and bad documents become violations', () => {
  const ok = parseGuestJson(
    ExitEventSchema,
    Buffer.from(
      JSON.stringify({
        type: 'exit',
        container: 'c',
        execId: '',
        exitCode: 3,
        oomKilled: false,
        finishedAtMs: 1,
      }),
    ),
    'event',
  );
  assert.equal(ok.exitCode, 3);
  assert.throws(
    () => parseGuestJson(ExitEventSchema, Buffer.from('{"type":"exit",'), 'event'),
    ProtocolViolation,
  );
  assert.throws(
    () =>
      parseGuestJson(
        ExitEventSchema,
        Buffer.from(
          JSON.stringify({
            type: 'exit',
            container: 'c',
            execId: '',
            exitCode: -1,
            oomKilled: false,
            finishedAtMs: 1,
          }),
        ),
        'event',
      ),
    ProtocolViolation,
  );
});

test('frames round-trip their 64-bit offsets', () => {
  const d = new GuestFrameDecoder();
  const big = 2n ** 40n + 5n;
  const [, f] = d.push(Buffer.concat([hello, encodeFrame(frameKind.window, 3, big)]));
  assert.equal(f?.aux, big);
});
