/**
 * Content digests (`sha256:<64 hex>`), the identity of every blob. Only sha256 is accepted:
 * it is what registries and Docker produce, and a second algorithm would be a second attack
 * surface for no gain.
 */
import { createHash } from 'node:crypto';
import { invalid } from '../lib/index.js';

const digestRe = /^sha256:[a-f0-9]{64}$/;

export function isDigest(s: string): boolean {
  return digestRe.test(s);
}

/** Returns the hex part of a digest. @throws Invalid for anything but `sha256:<64 hex>` */
export function digestHex(digest: string, what = 'digest'): string {
  if (!digestRe.test(digest))
    throw invalid(`Invalid ${what} "${digest.slice(0, 100)}": want sha256:<64 hex digits>`);
  return digest.slice(7);
}

export function sha256Digest(data: Uint8Array | string): string {
  return 'sha256:' + createHash('sha256').update(data).digest('hex');
}

/** Chain IDs per the OCI image spec: chain(L0) = diff(L0); chain(Ln) = sha256(chain(Ln-1) + " " + diff(Ln)). */
export function chainIds(diffIds: readonly string[]): string[] {
  const out: string[] = [];
  let prev: string | undefined;
  for (const d of diffIds) {
    prev = prev === undefined ? d : sha256Digest(`${prev} ${d}`);
    out.push(prev);
  }
  return out;
}

/** The chain ID of an image with no layers (a stable placeholder so scratch images still work). */
export const emptyChainId = sha256Digest('');
