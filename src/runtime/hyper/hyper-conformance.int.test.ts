/**
 * The runtime conformance suite (runtime/testing) on the hyper handler: the real daemon core,
 * real images from a loopback registry turned into root disks by the image service, and real
 * VMs under QEMU (TCG on this host).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { nullLogger } from '../../lib/index.js';
import { runRuntimeConformance } from '../testing/runtime-conformance.js';
import { repoRoot, startTestRuntime } from '../testing/test-runtime.js';
import { defaultGuestDir, findGuestAssets } from './guest-assets.js';
import { createHyperHandler } from './hyper-handler.js';

runRuntimeConformance('hyper', async () => {
  const guest = await findGuestAssets(defaultGuestDir(repoRoot));
  // Short path: the VMs' unix sockets live under it.
  const root = await mkdtemp('/tmp/h8s-hyc-');
  const hyper = createHyperHandler({
    root,
    log: nullLogger,
    kernel: guest.kernel,
    initrd: guest.initrd,
    kernelVersion: guest.kernelVersion,
    guestBuildId: guest.buildHash,
    poolSize: 1,
  });
  const d = await startTestRuntime({ handlers: ['hyper'], extraHandlers: [hyper] });
  return {
    runtime: d.client,
    handler: 'hyper',
    image: d.busyboxRef,
    startTimeoutMs: 180_000,
    cleanup: async () => {
      // Warnings and errors of the daemon, so a failure in CI can be understood from its output.
      const problems = d
        .logs()
        .split('\n')
        .filter((l) => / (WARN|ERROR) /.test(l))
        .join('\n');
      if (problems) console.error(`runtime root: ${d.root}\n${problems.slice(-6000)}`);
      await d.stop();
      await hyper.shutdownPool();
      await rm(root, { recursive: true, force: true });
    },
  };
});
