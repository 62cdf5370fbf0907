import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { errorCode, nullLogger } from '../../lib/index.js';
import { openKeyValueStore } from '../index.js';
import { type EtcdCluster, freeLoopbackPort, startEtcd } from '../testing/etcd-harness.js';
import { runKeyValueStoreConformance } from '../testing/key-value-store-conformance.js';

let etcd: EtcdCluster | undefined;
before(async () => {
  etcd = await startEtcd();
});
after(async () => {
  await etcd?.stop();
});

// One etcd for the whole file; every test works under its own prefix. Automatic compaction is
// off so it cannot add a revision in the middle of a test that counts revisions.
runKeyValueStoreConformance('etcd', async () => {
  if (!etcd) throw new Error('etcd did not start');
  const store = await openKeyValueStore(`${etcd.url}?compactIntervalMs=0`, { log: nullLogger });
  return { store, cleanup: () => store.close() };
});

describe('etcd store connection', () => {
  it('fails with ServiceUnavailable naming the endpoint when etcd is not there', async () => {
    const port = await freeLoopbackPort();
    await assert.rejects(
      openKeyValueStore(`etcd://127.0.0.1:${port}?requestTimeoutMs=2000`, { log: nullLogger }),
      (err: Error) => {
        assert.equal(errorCode(err), 'ServiceUnavailable', String(err));
        assert.ok(err.message.includes(`127.0.0.1:${port}`), err.message);
        return true;
      },
    );
  });

  it('rejects malformed etcd URLs with BadRequest', async () => {
    for (const url of [
      'etcd://',
      'etcd://host',
      'etcd://host:99999',
      'etcd://a:1,,b:2',
      'etcd://u:p@h:2379',
      'etcd://h:1?bogus=1',
    ]) {
      await assert.rejects(
        openKeyValueStore(url, { log: nullLogger }),
        (err) => errorCode(err) === 'BadRequest',
        url,
      );
    }
  });
});
