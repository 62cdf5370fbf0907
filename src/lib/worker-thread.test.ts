import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { execFile } from './exec.js';
import { startWorkerThread } from './worker-thread.js';

function firstMessage(worker: Worker): Promise<unknown> {
  return new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`worker exited with ${code} before it answered`)));
  });
}

describe('startWorkerThread', () => {
  it('runs the TypeScript entry named as .js when the process runs the sources', async () => {
    const worker = startWorkerThread(new URL('./testing/echo-worker.js', import.meta.url), {
      workerData: { n: 7 },
    });
    try {
      assert.deepEqual(await firstMessage(worker), { kind: 'ts', workerData: { n: 7 } });
    } finally {
      await worker.terminate();
    }
  });

  it('refuses an entry that is not named as a .js module', () => {
    assert.throws(
      () => startWorkerThread(new URL('./testing/echo-worker.ts', import.meta.url)),
      /must name a \.js/,
    );
  });

  it('runs the plain .js entry from the compiled build, without tsx', async () => {
    const compiled = fileURLToPath(new URL('../../dist/lib/worker-thread.js', import.meta.url));
    const dir = await mkdtemp(join(tmpdir(), 'h8s-worker-thread-'));
    try {
      await writeFile(
        join(dir, 'echo.js'),
        "import { parentPort, workerData } from 'node:worker_threads';\nparentPort.postMessage(workerData * 2);\n",
      );
      await writeFile(
        join(dir, 'main.mjs'),
        `import { startWorkerThread } from ${JSON.stringify(pathToFileURL(compiled).href)};\n` +
          `const w = startWorkerThread(new URL('./echo.js', import.meta.url), { workerData: 21 });\n` +
          `w.once('message', (m) => { console.log(m); void w.terminate(); });\n`,
      );
      // A plain node with no loader: the compiled build must not need tsx.
      const { stdout } = await execFile([process.execPath, join(dir, 'main.mjs')], { timeoutMs: 30_000 });
      assert.equal(stdout.trim(), '42');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
