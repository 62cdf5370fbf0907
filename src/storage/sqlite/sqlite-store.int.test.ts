import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nullLogger } from '../../lib/index.js';
import { openKeyValueStore } from '../index.js';
import { runKeyValueStoreConformance } from '../testing/key-value-store-conformance.js';

runKeyValueStoreConformance('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'h8s-sqlite-'));
  const store = await openKeyValueStore(`sqlite://${dir}/state.db`, { log: nullLogger });
  return {
    store,
    cleanup: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
