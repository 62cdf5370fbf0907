/**
 * The child process of the crash tests: writes to a store as fast as it can and reports each
 * acknowledged write on stdout, one line each, until it is killed.
 *
 *   node --import tsx src/storage/testing/crash-writer.ts <store-url> <concurrency> <run-id>
 *
 * Lines: `ready <revision>`, `ack <key> <revision>` (create acknowledged),
 * `del-start <key>` / `del <key> <revision>` (delete issued / acknowledged),
 * `hot <revision>` (update of /crash/hot acknowledged). It also compacts now and then so that a
 * kill can land in the middle of a compaction.
 */
import { bestEffort, createLogger, nullLogger, textLineSink } from '../../lib/index.js';
import { openKeyValueStore } from '../index.js';

const [url, concurrencyArg, runId] = process.argv.slice(2);
if (!url || !concurrencyArg || !runId) {
  process.stderr.write('usage: crash-writer <store-url> <concurrency> <run-id>\n');
  process.exit(2);
}
const store = await openKeyValueStore(url, { log: nullLogger });
/** Compactions cut short by the kill or by a busy store are expected; stderr keeps a trace. */
const stepLog = createLogger({
  level: 'debug',
  sink: textLineSink((line) => process.stderr.write(line + '\n')),
});
const out = (line: string): void => {
  process.stdout.write(line + '\n');
};
out(`ready ${await store.currentRevision()}`);
const encoder = new TextEncoder();
let acks = 0;

async function writer(w: number): Promise<never> {
  const mine: string[] = [];
  for (let n = 0; ; n++) {
    const key = `/crash/${runId}/w${w}/k${n}`;
    const r = await store.create(key, encoder.encode(`value of ${key}`));
    if (!r.ok) throw new Error(`create of ${key} failed: ${r.reason}`);
    out(`ack ${key} ${r.revision}`);
    mine.push(key);
    acks++;
    if (n % 10 === 9) {
      const victim = mine.splice(Math.floor(mine.length / 2), 1)[0] as string;
      out(`del-start ${victim}`);
      const d = await store.delete(victim, 0);
      if (!d.ok) throw new Error(`delete of ${victim} failed: ${d.reason}`);
      out(`del ${victim} ${d.revision}`);
    }
    if (n % 20 === 0) {
      const h = await store.update('/crash/hot', encoder.encode(`${runId}-${w}-${n}`), 0);
      if (h.ok) out(`hot ${h.revision}`);
      else await store.create('/crash/hot', encoder.encode('first'));
    }
    if (w === 0 && n % 200 === 199) {
      const cur = await store.currentRevision();
      void bestEffort(stepLog, 'compact the store', store.compact(Math.max(0, cur - 300)));
    }
  }
}

await Promise.all(Array.from({ length: Number(concurrencyArg) }, (_, w) => writer(w))).catch(
  (err: unknown) => {
    process.stderr.write(`crash-writer failed after ${acks} acks: ${String(err)}\n`);
    process.exit(1);
  },
);
