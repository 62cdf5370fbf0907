import { runRuntimeConformance } from '../testing/runtime-conformance.js';
import { startTestRuntime } from '../testing/test-runtime.js';

runRuntimeConformance('runc', async () => {
  const d = await startTestRuntime({ handlers: ['runc'] });
  return {
    runtime: d.client,
    handler: 'runc',
    image: d.busyboxRef,
    cleanup: async () => {
      if (process.exitCode) console.error(`runtime root: ${d.root}\n${d.logs().slice(-4000)}`);
      await d.stop();
    },
  };
});
