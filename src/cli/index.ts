/**
 * cli: the user commands of h8s (hyperctl and its image commands): parse arguments, call a
 * client (the runtime daemon's `RuntimeClient`), print. cmd/ wires them to the process.
 *
 * What it is not: anything that reads process.env or owns a process; cmd/ does that.
 */
export { hyperctlMain, hyperctlUsage, parsePodfile, planFromPodfile } from './hyperctl/index.js';
export type { HyperctlIO, HyperctlTerminal } from './hyperctl/index.js';
export { imageCommands } from './images/index.js';
export type { CommandIO } from './images/index.js';
