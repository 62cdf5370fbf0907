/**
 * `/openapi/v2` and `/openapi/v3[/{group-version}]` (upstream kube-openapi handlers). The
 * documents come from the api module's builders; this layer serves them with upstream's
 * caching rules: v3 group-version documents are addressed by content hash
 * (`?hash=<SHA-512, upper-case hex>`) and served `Cache-Control: public, immutable`; a stale
 * hash is redirected to the current one, so kubectl's HTTP cache never serves an old schema.
 */
import { createHash } from 'node:crypto';
import { notFound } from '../../lib/index.js';
import { parseAccept } from './negotiation.js';
import type { RequestContext } from './request-context.js';

export interface OpenApiDocuments {
  /** The Swagger 2.0 document of every served kind. */
  v2(): unknown;
  /** The Swagger 2.0 document in gnostic protobuf form, when available (kubectl 1.20 asks for it). */
  v2Protobuf?(): Uint8Array;
  /** Group-version paths with a v3 document: `api/v1`, `apis/apps/v1`, ... */
  v3Paths(): readonly string[];
  /** The OpenAPI 3.0 document of one group-version path, or undefined. */
  v3(path: string): unknown;
}

interface Cached {
  readonly body: Buffer;
  readonly hash: string;
}

const v2ProtobufType = 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf';

export class OpenApiHandler {
  readonly #docs: OpenApiDocuments;
  #v2: Cached | undefined;
  #v2Pb: Buffer | undefined;
  readonly #v3 = new Map<string, Cached>();
  #index: Buffer | undefined;

  constructor(docs: OpenApiDocuments) {
    this.#docs = docs;
  }

  #v3Doc(path: string): Cached | undefined {
    let c = this.#v3.get(path);
    if (!c) {
      const doc = this.#docs.v3(path);
      if (doc === undefined) return undefined;
      const body = Buffer.from(JSON.stringify(doc));
      c = { body, hash: createHash('sha512').update(body).digest('hex').toUpperCase() };
      this.#v3.set(path, c);
    }
    return c;
  }

  /** Serves the request when its path is an OpenAPI path; returns false otherwise. */
  handle(ctx: RequestContext): boolean {
    const { path, res } = ctx;
    if (path === '/openapi/v2' || path === '/swagger.json') {
      const wantsProtobuf = parseAccept(ctx.req.headers.accept).some(
        (r) => r.type === 'application' && r.subtype.startsWith('com.github.proto-openapi.spec.v2'),
      );
      const wantsJson = parseAccept(ctx.req.headers.accept).some(
        (r) => (r.type === 'application' && r.subtype === 'json') || r.type === '*',
      );
      if (wantsProtobuf && (!wantsJson || this.#docs.v2Protobuf)) {
        // kubectl 1.20 insists on protobuf; without an encoder, an empty Document (no models)
        // lets its client-side validation pass and leaves validation to the server.
        this.#v2Pb ??= Buffer.from(this.#docs.v2Protobuf?.() ?? new Uint8Array(0));
        res.writeHead(200, {
          'Content-Type': v2ProtobufType,
          'Cache-Control': 'no-cache, private',
          'Content-Length': this.#v2Pb.length,
          Vary: 'Accept',
        });
        res.end(this.#v2Pb);
        return true;
      }
      if (!this.#v2) {
        const body = Buffer.from(JSON.stringify(this.#docs.v2()));
        this.#v2 = { body, hash: createHash('sha512').update(body).digest('hex').toUpperCase() };
      }
      res.writeHead(200, {
        'Content-Type': 'application/json',
        'Cache-Control': 'no-cache, private',
        ETag: `"${this.#v2.hash}"`,
        'Content-Length': this.#v2.body.length,
        Vary: 'Accept',
      });
      res.end(this.#v2.body);
      return true;
    }
    if (path === '/openapi/v3' || path === '/openapi/v3/') {
      if (!this.#index) {
        const paths: Record<string, { serverRelativeURL: string }> = {};
        for (const p of this.#docs.v3Paths()) {
          const doc = this.#v3Doc(p);
          if (doc) paths[p] = { serverRelativeURL: `/openapi/v3/${p}?hash=${doc.hash}` };
        }
        this.#index = Buffer.from(JSON.stringify({ paths }));
      }
      res.writeHead(200, {
        'Content-Type': 'application/json',
        'Cache-Control': 'no-cache, private',
        'Content-Length': this.#index.length,
      });
      res.end(this.#index);
      return true;
    }
    if (path.startsWith('/openapi/v3/')) {
      const gvPath = path.slice('/openapi/v3/'.length).replace(/\/$/, '');
      const doc = this.#v3Doc(gvPath);
      if (!doc) throw notFound('the server could not find the requested resource');
      const hash = ctx.query.get('hash');
      if (hash !== null && hash !== doc.hash) {
        res.writeHead(301, {
          Location: `/openapi/v3/${gvPath}?hash=${doc.hash}`,
          'Cache-Control': 'no-cache, private',
          'Content-Length': 0,
        });
        res.end();
        return true;
      }
      res.writeHead(200, {
        'Content-Type': 'application/json',
        'Cache-Control': hash !== null ? 'public, immutable' : 'no-cache, private',
        ETag: `"${doc.hash}"`,
        'Content-Length': doc.body.length,
        Expires: hash !== null ? new Date(Date.now() + 365 * 24 * 3600 * 1000).toUTCString() : '0',
      });
      res.end(doc.body);
      return true;
    }
    return false;
  }
}
