import { after, before } from 'node:test';
import { nullLogger } from '../../lib/index.js';
import { openKeyValueStore } from '../index.js';
import { type EtcdCluster, startEtcd } from '../testing/etcd-harness.js';
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
