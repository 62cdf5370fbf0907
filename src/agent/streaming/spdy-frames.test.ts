import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { constants, createDeflate, inflateSync } from 'node:zlib';
import { spdyHeaderDictionary } from './spdy-dictionary.js';
import {
  SpdyFrameReader,
  SpdyHeaderReader,
  SpdyHeaderWriter,
  controlType,
  encodeControlFrame,
  encodeDataFrame,
  flagFin,
} from './spdy-frames.js';

/** A peer's compressor: one zlib stream with the dictionary, sync-flushed per block (as Go's). */
function peerCompressor(): (block: Buffer) => Promise<Buffer> {
  const deflate = createDeflate({ dictionary: spdyHeaderDictionary });
  return (block) =>
    new Promise((resolve) => {
      const out: Buffer[] = [];
      const onData = (c: Buffer): void => {
        out.push(c);
      };
      deflate.on('data', onData);
      deflate.write(block);
      deflate.flush(constants.Z_SYNC_FLUSH, () => {
        deflate.off('data', onData);
        resolve(Buffer.concat(out));
      });
    });
}

function rawHeaderBlock(headers: Record<string, string>): Buffer {
  const parts = [Buffer.alloc(4)];
  parts[0]!.writeUInt32BE(Object.keys(headers).length);
  for (const [k, v] of Object.entries(headers)) {
    for (const s of [k, v]) {
      const len = Buffer.alloc(4);
      len.writeUInt32BE(Buffer.byteLength(s));
      parts.push(len, Buffer.from(s));
    }
  }
  return Buffer.concat(parts);
}

describe('SPDY/3.1 frames', () => {
  it('the dictionary is SPDY/3 dictionary of 1423 bytes', () => {
    assert.equal(spdyHeaderDictionary.length, 1423);
    assert.equal(spdyHeaderDictionary.subarray(4, 11).toString(), 'options');
  });

  it('cuts a byte stream into control and data frames, however it is split', () => {
    const bytes = Buffer.concat([
      encodeControlFrame(controlType.ping, 0, Buffer.from([0, 0, 0, 1])),
      encodeDataFrame(3, flagFin, Buffer.from('hello')),
    ]);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const r = new SpdyFrameReader();
      const frames = [...r.push(bytes.subarray(0, cut)), ...r.push(bytes.subarray(cut))];
      assert.equal(frames.length, 2);
      const [ping, data] = frames;
      assert.ok(ping?.isControl && ping.type === controlType.ping);
      assert.ok(data && !data.isControl);
      assert.equal(data.streamId, 3);
      assert.equal(data.flags, flagFin);
      assert.equal(data.data.toString(), 'hello');
    }
  });

  it('refuses a frame of another version', () => {
    const frame = encodeControlFrame(controlType.ping, 0, Buffer.alloc(4));
    frame.writeUInt16BE(0x8002, 0);
    assert.throws(() => new SpdyFrameReader().push(frame), { code: 'BadRequest' });
  });

  it('writes header blocks that one inflater with the dictionary reads in turn', () => {
    const w = new SpdyHeaderWriter();
    const blocks = [
      w.encode({}),
      w.encode({ streamtype: 'error' }),
      w.encode({ 'x-long': 'v'.repeat(70_000) }),
    ];
    // One continuous zlib stream: the concatenation inflates to the raw blocks.
    const all = inflateSync(Buffer.concat(blocks), {
      dictionary: spdyHeaderDictionary,
      finishFlush: constants.Z_SYNC_FLUSH,
    });
    assert.deepEqual(
      all,
      Buffer.concat([
        rawHeaderBlock({}),
        rawHeaderBlock({ streamtype: 'error' }),
        rawHeaderBlock({ 'x-long': 'v'.repeat(70_000) }),
      ]),
    );
    // Each block ends as a sync flush does (an empty stored block), so a reader can stop there.
    for (const b of blocks) assert.deepEqual(b.subarray(-5), Buffer.from([0, 0, 0, 0xff, 0xff]));
  });

  it("reads the peer's compressed header blocks in order", async () => {
    const compress = peerCompressor();
    const reader = new SpdyHeaderReader();
    const a = await compress(rawHeaderBlock({ streamtype: 'data', port: '8080', requestid: '0' }));
    const b = await compress(rawHeaderBlock({ StreamType: 'error', port: '8080' }));
    const [ha, hb] = await Promise.all([reader.decode(a), reader.decode(b)]);
    assert.deepEqual(ha, { streamtype: 'data', port: '8080', requestid: '0' });
    assert.deepEqual(hb, { streamtype: 'error', port: '8080' });
    reader.close();
  });

  it('rejects a corrupt header block', async () => {
    const reader = new SpdyHeaderReader();
    await assert.rejects(reader.decode(Buffer.from('not zlib at all')), { code: 'BadRequest' });
    reader.close();
  });
});
