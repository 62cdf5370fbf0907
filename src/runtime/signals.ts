/**
 * Linux signal names and numbers, the one table both handlers use: runc signals a host
 * process, hyper asks the guest agent to signal one (the guest is Linux on the same
 * architecture family, so the numbers are the same). Names come from the CRI (`stopSignal`,
 * the image's `StopSignal`) as `SIGTERM`, `TERM` or a number.
 */
import { invalid } from '../lib/index.js';

/** The standard Linux signals (x86-64 and arm64 share these numbers). */
const linuxSignals: Readonly<Record<string, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGILL: 4,
  SIGTRAP: 5,
  SIGABRT: 6,
  SIGBUS: 7,
  SIGFPE: 8,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGSEGV: 11,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
  SIGSTKFLT: 16,
  SIGCHLD: 17,
  SIGCONT: 18,
  SIGSTOP: 19,
  SIGTSTP: 20,
  SIGTTIN: 21,
  SIGTTOU: 22,
  SIGURG: 23,
  SIGXCPU: 24,
  SIGXFSZ: 25,
  SIGVTALRM: 26,
  SIGPROF: 27,
  SIGWINCH: 28,
  SIGIO: 29,
  SIGPWR: 30,
  SIGSYS: 31,
};

/** Aliases Linux accepts for the same numbers. */
const aliases: Readonly<Record<string, string>> = {
  SIGIOT: 'SIGABRT',
  SIGPOLL: 'SIGIO',
  SIGCLD: 'SIGCHLD',
};

/** Highest signal number (SIGRTMAX on Linux). */
export const maxSignalNumber = 64;

/**
 * A signal given by name (`SIGTERM`, `term`) or number (`15`, 1 to 64) as its number.
 * @throws Invalid for a name Linux does not know or a number out of range
 */
export function signalNumber(sig: string): number {
  const s = sig.trim().toUpperCase();
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (n >= 1 && n <= maxSignalNumber) return n;
    throw invalid(`Unknown stop signal "${sig}": signal numbers go from 1 to ${maxSignalNumber}`);
  }
  const name = s.startsWith('SIG') ? s : `SIG${s}`;
  const n = linuxSignals[aliases[name] ?? name];
  if (n === undefined) throw invalid(`Unknown stop signal "${sig}"`);
  return n;
}

/** The name of a standard signal's number (`15` → `SIGTERM`), or undefined (real-time signals). */
export function signalName(n: number): string | undefined {
  for (const [name, num] of Object.entries(linuxSignals)) if (num === n) return name;
  return undefined;
}
