import { nullLogger } from '../../lib/index.js';
import { openKeyValueStore } from '../index.js';
import { runKeyValueStoreConformance } from '../testing/key-value-store-conformance.js';

runKeyValueStoreConformance('memory', async () => {
  const store = await openKeyValueStore('memory://', { log: nullLogger });
  return { store, cleanup: () => store.close() };
});
