/**
 * Content negotiation (upstream `negotiation`): which representation a client accepts.
 * We answer JSON (plain, Table, PartialObjectMetadata) and YAML; protobuf responses are not
 * served, which is fine because every Kubernetes client that asks for protobuf also accepts
 * JSON. A 406 only happens when nothing acceptable is left, never when JSON is acceptable.
 */

export interface MediaRange {
  readonly type: string;
  readonly subtype: string;
  readonly params: ReadonlyMap<string, string>;
  readonly q: number;
}

/** Parses an Accept header into media ranges, highest preference first (stable). */
export function parseAccept(header: string | undefined): MediaRange[] {
  if (!header) return [];
  const out: (MediaRange & { pos: number })[] = [];
  header.split(',').forEach((part, pos) => {
    const [full, ...rawParams] = part.split(';');
    const [type, subtype] = (full ?? '').trim().toLowerCase().split('/');
    if (!type || !subtype) return;
    const params = new Map<string, string>();
    let q = 1;
    for (const p of rawParams) {
      const eq = p.indexOf('=');
      if (eq < 0) continue;
      const k = p.slice(0, eq).trim().toLowerCase();
      const v = p
        .slice(eq + 1)
        .trim()
        .replace(/^"(.*)"$/, '$1');
      if (k === 'q') q = Number(v);
      else params.set(k, v);
    }
    if (!(q > 0)) return;
    out.push({ type, subtype, params, q, pos });
  });
  out.sort((a, b) => b.q - a.q || a.pos - b.pos);
  return out;
}

export type ObjectFormat =
  | { readonly kind: 'json' }
  | { readonly kind: 'yaml' }
  | { readonly kind: 'table'; readonly version: 'v1' | 'v1beta1' }
  | { readonly kind: 'partial'; readonly version: 'v1' | 'v1beta1'; readonly list: boolean };

const json: ObjectFormat = { kind: 'json' };

function isJson(r: MediaRange): boolean {
  return (
    (r.type === 'application' && r.subtype === 'json') ||
    (r.type === '*' && r.subtype === '*') ||
    (r.type === 'application' && r.subtype === '*')
  );
}

/**
 * The response format for an object or list, or undefined when the client accepts nothing
 * we serve (406).
 */
export function negotiateObjectFormat(accept: string | undefined): ObjectFormat | undefined {
  const ranges = parseAccept(accept);
  if (ranges.length === 0) return json;
  for (const r of ranges) {
    const as = r.params.get('as');
    if (r.type === 'application' && r.subtype === 'json' && as !== undefined) {
      const g = r.params.get('g');
      const v = r.params.get('v');
      if (g !== 'meta.k8s.io' || (v !== 'v1' && v !== 'v1beta1')) continue;
      if (as === 'Table') return { kind: 'table', version: v };
      if (as === 'PartialObjectMetadata') return { kind: 'partial', version: v, list: false };
      if (as === 'PartialObjectMetadataList') return { kind: 'partial', version: v, list: true };
      continue;
    }
    if (as !== undefined) continue;
    if (isJson(r)) return json;
    if (r.type === 'application' && r.subtype === 'yaml') return { kind: 'yaml' };
  }
  return undefined;
}

export type DiscoveryFormat = 'v2' | 'v2beta1' | 'legacy';

/** Aggregated discovery only when the Accept header asks for it (client-go decides by Content-Type). */
export function negotiateDiscovery(accept: string | undefined): DiscoveryFormat {
  for (const r of parseAccept(accept)) {
    if (r.type !== 'application' || r.subtype !== 'json') continue;
    if (r.params.get('as') === 'APIGroupDiscoveryList' && r.params.get('g') === 'apidiscovery.k8s.io') {
      const v = r.params.get('v');
      if (v === 'v2' || v === 'v2beta1') return v;
      continue;
    }
    if (!r.params.has('as')) return 'legacy';
  }
  return 'legacy';
}
