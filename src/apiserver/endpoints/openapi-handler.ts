/**
 * `/openapi/v2` and `/openapi/v3[/{group-version}]` (upstream kube-openapi handlers), serving
 * the documents the api module builds from the kind definitions, with upstream's caching rules:
 * v3 group-version documents are addressed by content hash (`?hash=<SHA-512, upper-case hex>`)
 * and served `Cache-Control: public, immutable`; a stale hash is redirected to the current one,
 * so kubectl's HTTP cache never serves an old schema. `/openapi/v2` answers gnostic protobuf
 * (what kubectl 1.20 asks for: client-side validation, dry-run support checks, `explain`) or
 * JSON, by Accept.
 */
import { buildOpenApiV2, buildOpenApiV3, type KindDefinition } from '../../api/index.js';
import { notFound } from '../../lib/index.js';
import { parseAccept } from './negotiation.js';
import type { RequestContext } from './request-context.js';

const v2ProtobufType = 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf';
const yearMs = 365 * 24 * 3600 * 1000;

export class OpenApiHandler {
  readonly #kinds: readonly KindDefinition[];
  readonly #serverVersion: string;

  constructor(kinds: readonly KindDefinition[], serverVersion: string) {
    this.#kinds = kinds;
    this.#serverVersion = serverVersion;
  }

  /** Serves the request when its path is an OpenAPI path; returns false otherwise. */
  handle(ctx: RequestContext): boolean {
    const { path, res } = ctx;
    const options = { kinds: this.#kinds, serverVersion: this.#serverVersion };
    if (path === '/openapi/v2' || path === '/swagger.json') {
      const v2 = buildOpenApiV2(options);
      const accept = parseAccept(ctx.req.headers.accept);
      const wantsProtobuf =
        path === '/openapi/v2' &&
        accept.length > 0 &&
        accept[0]?.type === 'application' &&
        accept[0].subtype.startsWith('com.github.proto-openapi.spec.v2');
      const body = wantsProtobuf ? Buffer.from(v2.protobuf) : Buffer.from(v2.json);
      const headers: Record<string, string | number> = {
        'Content-Type': wantsProtobuf ? v2ProtobufType : 'application/json',
        'Cache-Control': 'no-cache, private',
        ETag: `"${v2.etag}"`,
        Vary: 'Accept',
        'Content-Length': body.length,
      };
      if (ctx.req.headers['if-none-match'] === `"${v2.etag}"`) {
        res.writeHead(304, { ETag: `"${v2.etag}"`, Vary: 'Accept' });
        res.end();
        return true;
      }
      res.writeHead(200, headers);
      res.end(body);
      return true;
    }
    if (path === '/openapi/v3' || path === '/openapi/v3/') {
      const text = JSON.stringify(buildOpenApiV3(options).index);
      res.writeHead(200, {
        'Content-Type': 'application/json',
        'Cache-Control': 'no-cache, private',
        'Content-Length': Buffer.byteLength(text),
      });
      res.end(text);
      return true;
    }
    if (path.startsWith('/openapi/v3/')) {
      const gvPath = path.slice('/openapi/v3/'.length).replace(/\/$/, '');
      const doc = buildOpenApiV3(options).documents.get(gvPath);
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
      if (ctx.req.headers['if-none-match'] === `"${doc.hash}"`) {
        res.writeHead(304, { ETag: `"${doc.hash}"` });
        res.end();
        return true;
      }
      res.writeHead(200, {
        'Content-Type': 'application/json',
        'Cache-Control': hash !== null ? 'public, immutable' : 'no-cache, private',
        ETag: `"${doc.hash}"`,
        Expires:
          hash !== null ? new Date(Date.now() + yearMs).toUTCString() : 'Thu, 01 Jan 1970 00:00:00 GMT',
        'Content-Length': Buffer.byteLength(doc.json),
      });
      res.end(doc.json);
      return true;
    }
    return false;
  }
}
