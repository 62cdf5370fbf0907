import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from './wait.js';
import { isTimeout } from './errors.js';

describe('waitFor', () => {
  it('returns the first truthy value of the condition', async () => {
    let n = 0;
    const v = await waitFor(() => (++n >= 3 ? n : undefined), { timeoutMs: 1000, intervalMs: 1 });
    assert.equal(v, 3);
  });

  it('times out naming what it waited for, with the last error as cause', async () => {
    await assert.rejects(
      waitFor(
        () => {
          throw new Error('not listening');
        },
        { timeoutMs: 30, intervalMs: 5, description: 'the server' },
      ),
      (err: Error) => {
        assert.ok(isTimeout(err));
        assert.match(err.message, /waiting for the server/);
        assert.equal((err.cause as Error).message, 'not listening');
        return true;
      },
    );
  });
});
