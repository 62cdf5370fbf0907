/** A worker-thread entry for worker-thread.test.ts: sends back its workerData with its file type. */
import { parentPort, workerData } from 'node:worker_threads';

const kind: string = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
parentPort?.postMessage({ kind, workerData: workerData as unknown });
