import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createMemoryLogger, createRateLimitedLogger } from './log.js';

describe('log', () => {
  it('keeps data in fields and redacts secrets', () => {
    const { log, records } = createMemoryLogger();
    log
      .child({ component: 'apiserver' })
      .info('Authenticated request', { user: 'admin', token: 'abc', password: 'p' });
    assert.equal(records.length, 1);
    assert.equal(records[0]?.msg, 'Authenticated request');
    assert.equal(records[0]?.['component'], 'apiserver');
    assert.equal(records[0]?.['token'], '[redacted]');
    assert.equal(records[0]?.['password'], '[redacted]');
    assert.equal(records[0]?.['user'], 'admin');
  });

  it('drops records below the level', () => {
    const { log, records } = createMemoryLogger('warn');
    log.info('Started');
    log.debug('Detail');
    log.error('Failed');
    assert.deepEqual(
      records.map((r) => r.msg),
      ['Failed'],
    );
  });

  it('rate-limits a flood from a guest and reports how much it suppressed', () => {
    const { log, records } = createMemoryLogger();
    let t = 0;
    const limited = createRateLimitedLogger(log, { burst: 3, windowMs: 1000, now: () => t });
    for (let i = 0; i < 1000; i++) limited.warn('Guest console line', { i });
    assert.equal(records.length, 3);
    t = 1000;
    limited.warn('Guest console line', { i: -1 });
    assert.equal(records.length, 4);
    assert.equal(records[3]?.['suppressed'], 997);
  });
});
