/**
 * The `continue` token of paged lists, in upstream's form: base64url of
 * `{"v":"meta.k8s.io/v1","rv":<list revision>,"start":"<next key relative to the prefix>"}`.
 * Every page of one list is read at the same revision.
 */
import { badRequest } from '../../lib/index.js';

export interface ContinueToken {
  readonly revision: number;
  /** Key relative to the list's prefix where the next page starts (inclusive). */
  readonly start: string;
}

export function encodeContinue(token: ContinueToken): string {
  return Buffer.from(
    JSON.stringify({ v: 'meta.k8s.io/v1', rv: token.revision, start: token.start }),
  ).toString('base64url');
}

/** @throws BadRequest for a token this server did not issue. */
export function decodeContinue(raw: string): ContinueToken {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    throw badRequest(
      'The provided continue parameter is too old to display a consistent list result or is malformed',
    );
  }
  const p = parsed as { v?: unknown; rv?: unknown; start?: unknown };
  if (
    p === null ||
    typeof p !== 'object' ||
    p.v !== 'meta.k8s.io/v1' ||
    typeof p.rv !== 'number' ||
    !Number.isSafeInteger(p.rv) ||
    p.rv < 1 ||
    typeof p.start !== 'string' ||
    p.start.includes('..')
  ) {
    throw badRequest('The provided continue parameter is malformed; request a new list without continue');
  }
  return { revision: p.rv, start: p.start };
}
