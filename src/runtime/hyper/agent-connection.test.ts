/**
 * AgentConnection against a fake guest on a unix socket: the real host code, a scripted
 * guest that speaks good and bad frames.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isTimeout, nullLogger, waitFor } from '../../lib/index.js';
import { AgentConnection, type OutputSink } from './agent-connection.js';
import {
  GuestFrameDecoder,
  encodeFrame,
  encodeJson,
  frameKind,
  outWindowBytes,
  type Frame,
} from './protocol.js';

const helloBody = {
  version: 1,
  agent: 'fake',
  kernelRelease: '6.1.0-test',
  bootId: 'b',
  capabilities: [],
  outWindowBytes,
  inWindowBytes: 65536,
  maxHostPayloadBytes: 262144,
  lastEventSeq: 0,
};

/** A fake guest: decodes host frames (host→guest framing is the same), answers as scripted. */
async function fakeGuest(
  onFrame: (f: Frame, sock: Socket) => void,
): Promise<{ path: string; server: Server; dir: string; frames: Frame[] }> {
  const dir = await mkdtemp('/tmp/h8s-fakeguest-');
  const path = join(dir, 'ctl.sock');
  const frames: Frame[] = [];
  const server = createServer((sock) => {
    let buf = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 24) {
        const len = buf.readUInt32BE(16);
        if (buf.length < 24 + len) break;
        const f: Frame = {
          kind: buf.readUInt8(2) as Frame['kind'],
          id: buf.readUInt32BE(4),
          aux: buf.readBigUInt64BE(8),
          payload: buf.subarray(24, 24 + len),
        };
        buf = buf.subarray(24 + len);
        frames.push(f);
        if (f.kind === frameKind.connect) sock.write(encodeJson(frameKind.hello, 0, 0, helloBody));
        onFrame(f, sock);
      }
    });
    sock.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(path, r));
  return { path, server, dir, frames };
}

void GuestFrameDecoder;

async function withGuest(
  onFrame: (f: Frame, sock: Socket) => void,
  body: (path: string, frames: Frame[]) => Promise<void>,
): Promise<void> {
  const g = await fakeGuest(onFrame);
  try {
    await body(g.path, g.frames);
  } finally {
    g.server.close();
    await rm(g.dir, { recursive: true, force: true });
  }
}

test('requests are matched by id and errors keep the guest code', async () => {
  await withGuest(
    (f, sock) => {
      if (f.kind !== frameKind.request) return;
      const req = JSON.parse(f.payload.toString()) as { op: string };
      // answer out of order on purpose: ids, not FIFO
      setTimeout(
        () => {
          sock.write(
            encodeJson(
              frameKind.response,
              f.id,
              0,
              req.op === 'bad'
                ? { ok: false, code: 'NotFound', message: 'nope' }
                : { ok: true, echo: req.op },
            ),
          );
        },
        req.op === 'slow' ? 30 : 0,
      );
    },
    async (path) => {
      const c = await AgentConnection.connect(
        { socketPath: path, log: nullLogger, lastEventSeq: 0, onEvent: () => {}, onViolation: () => {} },
        { timeoutMs: 5000 },
      );
      const [slow, fast] = await Promise.all([c.request('slow'), c.request('fast')]);
      assert.equal(slow['echo'], 'slow');
      assert.equal(fast['echo'], 'fast');
      await assert.rejects(
        c.request('bad'),
        (e: Error & { code?: string }) => e.code === 'NotFound' && /nope/.test(e.message),
      );
      assert.equal(c.hello.kernelRelease, '6.1.0-test');
      c.close();
    },
  );
});

test('a guest sending malformed frames gets its connection closed and is reported once', async () => {
  for (const bad of [
    Buffer.alloc(48, 0x41),
    encodeFrame(frameKind.data, 99, 0, Buffer.from('unknown stream')),
    encodeFrame(frameKind.response, 12345, 0, Buffer.from('{"ok":true}')),
    encodeFrame(frameKind.event, 0, 1, Buffer.from('{"type":"exit",')),
  ]) {
    await withGuest(
      (f, sock) => {
        if (f.kind === frameKind.request) sock.write(bad);
      },
      async (path) => {
        const violations: string[] = [];
        const c = await AgentConnection.connect(
          {
            socketPath: path,
            log: nullLogger,
            lastEventSeq: 0,
            onEvent: () => {},
            onViolation: (r) => violations.push(r),
          },
          { timeoutMs: 5000 },
        );
        await assert.rejects(c.request('ping', {}, 5000), /broke the protocol/);
        assert.equal(violations.length, 1);
        assert.ok(c.isClosed);
      },
    );
  }
});

test('output is acknowledged only as the sink consumes it, and a window overrun is a violation', async () => {
  let guestSock: Socket | undefined;
  await withGuest(
    (f, sock) => {
      guestSock = sock;
    },
    async (path, frames) => {
      const got: string[] = [];
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const sink: OutputSink = {
        write: async (chunk) => {
          got.push(chunk.toString());
          await gate;
        },
        end: () => got.push('<end>'),
      };
      const violations: string[] = [];
      const c = await AgentConnection.connect(
        {
          socketPath: path,
          log: nullLogger,
          lastEventSeq: 0,
          onEvent: () => {},
          onViolation: (r) => violations.push(r),
        },
        { timeoutMs: 5000 },
      );
      c.openOutput(5, sink);
      guestSock?.write(
        Buffer.concat([
          encodeFrame(frameKind.data, 5, 0, Buffer.from('hello ')),
          encodeFrame(frameKind.data, 5, 6, Buffer.from('world')),
        ]),
      );
      await waitFor(() => got.length === 1, { timeoutMs: 2000 });
      assert.equal(
        frames.filter((f) => f.kind === frameKind.window).length,
        0,
        'nothing acknowledged before the sink took it',
      );
      release();
      await waitFor(() => frames.some((f) => f.kind === frameKind.window && f.aux === 11n), {
        timeoutMs: 2000,
      });
      guestSock?.write(encodeFrame(frameKind.close, 5, 11));
      await waitFor(() => got.includes('<end>'), { timeoutMs: 2000 });
      assert.deepEqual(got, ['hello ', 'world', '<end>']);
      // Now a stream that overruns its window.
      c.openOutput(7, { write: () => new Promise(() => {}), end: () => {} });
      const chunk = Buffer.alloc(60 * 1024, 0x61);
      for (let off = 0; off < outWindowBytes + chunk.length; off += chunk.length)
        guestSock?.write(encodeFrame(frameKind.data, 7, off, chunk));
      await waitFor(() => violations.length === 1, { timeoutMs: 2000 });
      assert.match(violations[0] ?? '', /exceeded its window/);
    },
  );
});

test('events are acknowledged after the host recorded them, and replays are not delivered twice', async () => {
  let guestSock: Socket | undefined;
  await withGuest(
    (_f, sock) => {
      guestSock = sock;
    },
    async (path, frames) => {
      const seen: number[] = [];
      const c = await AgentConnection.connect(
        {
          socketPath: path,
          log: nullLogger,
          lastEventSeq: 1,
          onEvent: (seq) => void seen.push(seq),
          onViolation: () => {},
        },
        { timeoutMs: 5000 },
      );
      const ev = (seq: number) =>
        encodeJson(frameKind.event, 0, seq, {
          type: 'exit',
          container: 'c',
          execId: '',
          exitCode: 0,
          oomKilled: false,
          finishedAtMs: 1,
        });
      guestSock?.write(Buffer.concat([ev(1), ev(2), ev(2), ev(3)]));
      await waitFor(() => frames.filter((f) => f.kind === frameKind.eventAck).length === 4, {
        timeoutMs: 2000,
      });
      assert.deepEqual(seen, [2, 3]);
      assert.equal(c.lastEventSeq, 3);
      const connect = frames.find((f) => f.kind === frameKind.connect);
      assert.equal(
        (JSON.parse(connect?.payload.toString() ?? '{}') as { lastEventSeq: number }).lastEventSeq,
        1,
      );
      c.close();
    },
  );
});

test('a guest that never answers makes connect time out', async () => {
  const dir = await mkdtemp('/tmp/h8s-fakeguest-');
  const server = createServer(() => {});
  await new Promise<void>((r) => server.listen(join(dir, 's'), r));
  try {
    await assert.rejects(
      AgentConnection.connect(
        {
          socketPath: join(dir, 's'),
          log: nullLogger,
          lastEventSeq: 0,
          onEvent: () => {},
          onViolation: () => {},
        },
        { timeoutMs: 300 },
      ),
      (e: unknown) => isTimeout(e),
    );
  } finally {
    server.close();
    await rm(dir, { recursive: true, force: true });
  }
});
