import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic, writeJsonFileAtomic } from './atomic-file.js';
import { bestEffort, bestEffortSync, unlessMissing } from './best-effort.js';
import { isNotFound, notFound, internal, invalid } from './errors.js';
import { createMemoryLogger } from './log.js';
import { isRecord } from './records.js';
import { errorFromWire, errorToWire } from './wire-error.js';

describe('lib plumbing', () => {
  it('writeJsonFileAtomic replaces a file and leaves no temporary file behind', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'h8s-atomic-'));
    try {
      const file = join(dir, 'state.json');
      await writeJsonFileAtomic(file, { a: 1 });
      await writeJsonFileAtomic(file, { a: 2 }, { isDurable: true });
      assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), { a: 2 });
      assert.deepEqual(await readdir(dir), ['state.json']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('writeFileAtomic fails without leaving a temporary file when the target cannot be replaced', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'h8s-atomic-'));
    try {
      await mkdir(join(dir, 'taken'));
      await mkdir(join(dir, 'taken', 'child'));
      await assert.rejects(writeFileAtomic(join(dir, 'taken'), 'x'));
      assert.deepEqual(await readdir(dir), ['taken']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('unlessMissing answers undefined for an absent path and rejects every other failure', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'h8s-missing-'));
    try {
      assert.equal(await unlessMissing(readFile(join(dir, 'absent'), 'utf8')), undefined);
      assert.equal(await unlessMissing(readFile(join(dir, 'absent', 'below'), 'utf8')), undefined);
      await mkdir(join(dir, 'a-dir'));
      // reading a directory is EISDIR: a real failure, not an absent file
      await assert.rejects(unlessMissing(readFile(join(dir, 'a-dir'), 'utf8')), { code: 'EISDIR' });
      assert.deepEqual(await unlessMissing(readdir(dir)), ['a-dir']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('bestEffort logs a failure at debug with what it was doing and never rejects', async () => {
    const { log, records } = createMemoryLogger();
    assert.equal(
      await bestEffort(log, 'remove temporary file', Promise.reject(new Error('EBUSY'))),
      undefined,
    );
    assert.equal(await bestEffort(log, 'answer', async () => 42), 42);
    assert.equal(
      bestEffortSync(log, 'close socket', () => {
        throw new Error('closed');
      }),
      undefined,
    );
    assert.deepEqual(
      records.map((r) => [r.level, r['what'], r['error']]),
      [
        ['debug', 'remove temporary file', 'EBUSY'],
        ['debug', 'close socket', 'closed'],
      ],
    );
  });

  it('isRecord accepts plain objects only', () => {
    assert.equal(isRecord({}), true);
    assert.equal(isRecord([]), false);
    assert.equal(isRecord(null), false);
    assert.equal(isRecord('x'), false);
  });

  it('an error keeps its code and details across the wire, and an internal one can be hidden', () => {
    const back = errorFromWire(
      JSON.parse(JSON.stringify(errorToWire(notFound('Pod "a" not found', { details: { name: 'a' } })))),
    );
    assert.ok(isNotFound(back));
    assert.equal(back?.message, 'Pod "a" not found');
    assert.deepEqual(back?.details, { name: 'a' });
    assert.deepEqual(errorToWire(internal('disk /dev/sda1 failed'), { internalMessage: 'Internal error' }), {
      code: 'InternalError',
      message: 'Internal error',
    });
    assert.equal(errorToWire(new Error('boom')).message, 'boom');
    assert.equal(errorFromWire({ code: 'Nonsense', message: 'm' })?.code, 'InternalError');
    assert.equal(errorFromWire('not a body'), undefined);
    assert.equal(errorToWire(invalid('bad')).code, 'Invalid');
  });
});
