/**
 * Cleaning up after a failed e2e test: pods outlive their runtime daemon by design, so what a
 * test's daemon started under its own directory (QEMU VMs, runc monitors) is killed here.
 */
import { readdir, readFile } from 'node:fs/promises';

/** SIGKILLs every QEMU and runc monitor whose command line names `dir`. */
export async function killProcessesUnder(dir: string): Promise<void> {
  for (const pid of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if ((cmd.startsWith('qemu-system') || cmd.includes('h8s-runc-shim')) && cmd.includes(dir)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}
