import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { nullLogger, spawnProcess, waitFor } from '../../lib/index.js';
import { openKeyValueStore } from '../index.js';

const root = new URL('../../../', import.meta.url).pathname;
const writerScript = new URL('../testing/crash-writer.ts', import.meta.url).pathname;

interface RunLog {
  readonly acked: Map<string, number>;
  readonly deleted: Set<string>;
  readonly deleting: Set<string>;
  maxHot: number;
  maxRevision: number;
  lines: number;
}

/** Starts the writer, kills it with SIGKILL at a random moment, and returns what it acknowledged. */
async function runAndKill(url: string, runId: string, killAfterMs: number): Promise<RunLog> {
  const log: RunLog = {
    acked: new Map(),
    deleted: new Set(),
    deleting: new Set(),
    maxHot: 0,
    maxRevision: 0,
    lines: 0,
  };
  const ac = new AbortController();
  const child = await spawnProcess([process.execPath, '--import', 'tsx', writerScript, url, '8', runId], {
    cwd: root,
    signal: ac.signal,
    killGraceMs: 0,
  });
  let stderr = '';
  let buffered = '';
  let isReady = false;
  const stdoutDone = new Promise<void>((resolve) => child.stdout?.on('close', () => resolve()));
  child.stderr?.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString()).slice(-4000);
  });
  child.stdout?.on('data', (c: Buffer) => {
    buffered += c.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? ''; // a partial last line was not fully reported: ignore it
    for (const line of lines) {
      const [kind, a, b] = line.split(' ');
      log.lines++;
      if (kind === 'ready') isReady = true;
      else if (kind === 'ack') {
        log.acked.set(a as string, Number(b));
        log.maxRevision = Math.max(log.maxRevision, Number(b));
      } else if (kind === 'del-start') log.deleting.add(a as string);
      else if (kind === 'del') {
        log.deleted.add(a as string);
        log.maxRevision = Math.max(log.maxRevision, Number(b));
      } else if (kind === 'hot') {
        log.maxHot = Math.max(log.maxHot, Number(a));
        log.maxRevision = Math.max(log.maxRevision, Number(a));
      }
    }
  });
  try {
    await waitFor(() => isReady && log.acked.size > 0, {
      timeoutMs: 30_000,
      description: `crash writer ${runId} to acknowledge writes (stderr: ${stderr})`,
    });
    await new Promise((resolve) => setTimeout(resolve, killAfterMs)); // the random moment of the crash
    child.kill('SIGKILL');
    const status = await child.exited;
    await stdoutDone;
    assert.equal(
      status.signal,
      'SIGKILL',
      `the writer exited on its own: ${JSON.stringify(status)} ${stderr}`,
    );
  } finally {
    ac.abort();
  }
  return log;
}

describe('sqlite crash safety', () => {
  const dir = mkdtempSync(join(tmpdir(), 'h8s-sqlite-crash-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('every acknowledged write survives SIGKILL, over repeated crashes of the same store', async (t) => {
    const url = `sqlite://${dir}/state.db`;
    const runs = 6;
    let total = 0;
    for (let run = 0; run < runs; run++) {
      const killAfterMs = 20 + Math.floor(Math.random() * 400);
      const log = await runAndKill(url, `run${run}`, killAfterMs);
      const store = await openKeyValueStore(url, { log: nullLogger });
      try {
        const rev = await store.currentRevision();
        assert.ok(
          rev >= log.maxRevision,
          `run ${run}: store revision ${rev} is below an acknowledged revision ${log.maxRevision} (dir ${dir})`,
        );
        let present = 0;
        for (const [key, revision] of log.acked) {
          const kv = await store.find(key);
          if (log.deleted.has(key)) {
            assert.equal(kv, undefined, `run ${run}: acknowledged delete of ${key} was lost (dir ${dir})`);
            continue;
          }
          if (log.deleting.has(key)) continue; // the delete may or may not have committed
          assert.ok(
            kv,
            `run ${run}: acknowledged create of ${key} at revision ${revision} was lost (dir ${dir})`,
          );
          assert.equal(kv.modRevision, revision);
          assert.equal(Buffer.from(kv.value).toString(), `value of ${key}`);
          present++;
        }
        if (log.maxHot > 0) assert.ok((await store.get('/crash/hot')).modRevision >= log.maxHot);
        // The reopened store keeps writing at the next revision.
        const w = await store.create(`/crash/after-run${run}`, new Uint8Array([1]));
        assert.ok(w.ok && w.revision === rev + 1);
        total += log.acked.size;
        t.diagnostic(
          `run ${run}: killed after ${killAfterMs} ms, ${log.acked.size} creates acknowledged, ${present} checked present`,
        );
      } finally {
        await store.close();
      }
    }
    assert.ok(total > runs, 'the writer must have acknowledged writes before being killed');
  });
});
