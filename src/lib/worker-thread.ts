/**
 * Starting a worker thread, the one place that knows whether h8s runs from the compiled build
 * (dist/, plain JavaScript) or from its TypeScript sources through tsx (tests, bin/h8s-dev.js).
 * A worker does not inherit the loader hooks of the thread that starts it (hooks registered
 * with `module.register` stay in their thread), so from sources the worker first registers
 * tsx itself and then imports its entry.
 */
import { fileURLToPath } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/** Whether this process runs the TypeScript sources (this file is then `worker-thread.ts`). */
const fromSources = import.meta.url.endsWith('.ts');

/**
 * Starts a worker thread running the module `entry`, spelled as an import is: the `.js` name
 * beside the caller, `new URL('./write-worker.js', import.meta.url)`. From sources it runs the
 * `.ts` file of that name through tsx; from dist/ the `.js` file itself. `options` are the
 * Worker's (`workerData`, `name`, `resourceLimits`, ...), except `eval`.
 */
export function startWorkerThread(entry: URL, options: Omit<WorkerOptions, 'eval'> = {}): Worker {
  if (!entry.pathname.endsWith('.js')) {
    throw new TypeError(`Worker entry "${fileURLToPath(entry)}" must name a .js module`);
  }
  if (!fromSources) return new Worker(entry, options);
  const source = new URL(entry.href.replace(/\.js$/, '.ts'));
  // Resolved here, not in the worker: eval'd code resolves bare names from the working directory.
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(source.href)}); });`;
  return new Worker(boot, { ...options, eval: true });
}
