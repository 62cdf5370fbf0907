/**
 * runtime/hyper: the HyperContainer runtime handler. Each pod is a QEMU VM (microvm with a
 * PCIe bus for hot-plug, direct kernel boot of Debian's cloud kernel) whose PID 1 is the C
 * guest agent from guest/; the host talks to it over a virtio-serial port with the protocol
 * of docs/adr/0002-guest-protocol.md.
 *
 * What it is not: the daemon core (ids, names, index, API) — that is runtime/ — nor network
 * plumbing (taps arrive ready in the sandbox config).
 * Invariants: VMs outlive the daemon and are re-adopted from their state directories; every
 * guest frame is parsed defensively and a misbehaving guest loses its channel, never the daemon.
 */
export { createHyperHandler, guestDebugAnnotation, guestKernelArgs, vmSize } from './hyper-handler.js';
export type { HyperHandler, HyperHandlerOptions } from './hyper-handler.js';
export { defaultGuestDir, findGuestAssets } from './guest-assets.js';
export type { GuestAssets } from './guest-assets.js';
