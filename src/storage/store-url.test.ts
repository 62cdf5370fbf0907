import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errorCode } from '../lib/index.js';
import { defaultCommonOptions, parseStoreUrl, rejectUnknownOptions, takeCommonOptions } from './store-url.js';

describe('datastore URLs', () => {
  it('splits scheme, location and options', () => {
    const p = parseStoreUrl('sqlite:///var/lib/h8s/state.db?synchronous=normal');
    assert.equal(p.scheme, 'sqlite');
    assert.equal(p.location, '/var/lib/h8s/state.db');
    assert.equal(p.params.get('synchronous'), 'normal');
    const e = parseStoreUrl('etcd://10.0.0.1:2379,10.0.0.2:2379');
    assert.equal(e.location, '10.0.0.1:2379,10.0.0.2:2379');
  });

  it('hides credentials in the display form', () => {
    assert.equal(parseStoreUrl('etcd://user:secret@h:2379').display, 'etcd://***@h:2379');
  });

  it('reads the common options with defaults and rejects unknown or malformed ones', () => {
    assert.deepEqual(takeCommonOptions(parseStoreUrl('memory://')), defaultCommonOptions);
    const p = parseStoreUrl('memory://?watchQueueEvents=5&compactIntervalMs=0&compactKeepRevisions=7');
    const o = takeCommonOptions(p);
    assert.equal(o.watchLimits.maxEvents, 5);
    assert.equal(o.compaction.intervalMs, 0);
    assert.equal(o.compaction.keepRevisions, 7);
    rejectUnknownOptions(p, []);
    for (const bad of [
      'memory://?watchQueueEvents=0',
      'memory://?compactKeepMs=1.5',
      'memory://?maxValueBytes=',
      'memory://?compactIntervalMs=1&compactIntervalMs=2',
    ]) {
      assert.throws(
        () => takeCommonOptions(parseStoreUrl(bad)),
        (err) => errorCode(err) === 'BadRequest',
        bad,
      );
    }
    const unknown = parseStoreUrl('memory://?colour=blue');
    takeCommonOptions(unknown);
    assert.throws(
      () => rejectUnknownOptions(unknown, ['synchronous']),
      /unknown option "colour"; known options: synchronous, /,
    );
  });

  it('rejects strings that are not URLs', () => {
    for (const bad of ['', '/var/lib/state.db', 'sqlite:/x']) {
      assert.throws(
        () => parseStoreUrl(bad),
        (err) => errorCode(err) === 'BadRequest',
        bad,
      );
    }
  });
});
