/**
 * Cleaning up after a test: pods outlive their runtime daemon by design, so what a test's daemon
 * started under its own directory (QEMU VMs, pooled ones too, and runc monitors) is killed here.
 */
import { readdir, readFile } from 'node:fs/promises';

/** SIGKILLs every QEMU and runc monitor whose command line names `dir`. */
export async function killProcessesUnder(dir: string): Promise<void> {
  for (const pid of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if ((/^(\S*\/)?qemu-system/.test(cmd) || cmd.includes('h8s-runc-shim')) && cmd.includes(dir)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}
