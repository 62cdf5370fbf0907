/**
 * hyperctl: the runtime daemon's CLI, as the seed's hyperd had it (reference/
 * hypervisor-runtime.md §3): pods and containers (`run`, `list`, `exec`, `logs`, `stop`,
 * `start`, `rm`, `info`) and images (`pull`, `images`, `rmi`, `load`, `save`, `login`,
 * `logout`, from cli/images), all through the daemon's socket (`--host`); it needs no API
 * server. Exit codes: the remote process's for `run` (attached) and `exec`; 1 for a failure,
 * 2 for a usage error.
 */
export { hyperctlMain, hyperctlUsage } from './hyperctl.js';
export type { HyperctlIO, HyperctlTerminal } from './hyperctl-io.js';
export { parsePodfile, planFromPodfile } from './podfile.js';
