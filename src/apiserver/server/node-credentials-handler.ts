/**
 * Joining nodes (docs/agent.md "Joining"; k3s's `/cacerts` and kubeadm's TLS bootstrap in one
 * request instead of a CertificateSigningRequest round trip):
 *
 * - `GET /cacerts` (anyone): the cluster CA certificate, PEM. A joining agent checks its
 *   SHA-256 against the hash pinned in its join token before it trusts anything else.
 * - `POST /h8s/v1/node-credentials` with `{nodeName, clientPublicKey, servingPublicKey?,
 *   servingNames?, expirationSeconds?}`: the node's client certificate (CN
 *   `system:node:<name>`, O `system:nodes`), the serving certificate of its streaming server
 *   and the CA certificate. Allowed with a bootstrap token (`Authorization: Bearer
 *   <id>.<secret>`: a new node, any name), with the node's own current client certificate
 *   (renewal: its own name only, else 403), or as a cluster admin (`system:masters`).
 *
 * Errors: 401 for a missing, unknown, wrong or expired token; 403 for another node's name;
 * 422 (Invalid, with causes) for a bad body or node name.
 */
import { Type } from '@sinclair/typebox';
import { isIP } from 'node:net';
import {
  forbidden,
  invalid,
  methodNotAllowed,
  parseWith,
  unauthorized,
  type Clock,
  type Logger,
} from '../../lib/index.js';
import { readBody, decodeJson } from '../endpoints/request-body.js';
import type { RequestContext } from '../endpoints/request-context.js';
import { writeJson, writeText } from '../endpoints/responses.js';
import type { ApiRegistry } from '../registry/api-registry.js';
import { BootstrapTokenAuthenticator } from './bootstrap-tokens.js';
import { issueNodeCertificates, type NodeCertificateAuthority } from './node-certificates.js';

export const nodeCredentialsPath = '/h8s/v1/node-credentials';
export const caCertsPath = '/cacerts';

const dayMs = 24 * 3600 * 1000;
/** Upstream's CSR API accepts no `expirationSeconds` below ten minutes. */
const minLifetimeSeconds = 600;
const maxBodyBytes = 64 * 1024;
const maxServingNames = 32;

/** DNS-1123 subdomain, as Node names must be. */
const nodeNamePattern = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const dnsLabelPattern = /^[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?$/;

const NodeCredentialsRequest = Type.Object(
  {
    nodeName: Type.String({ maxLength: 253 }),
    clientPublicKey: Type.String({ maxLength: 16 * 1024 }),
    servingPublicKey: Type.Optional(Type.String({ maxLength: 16 * 1024 })),
    servingNames: Type.Optional(Type.Array(Type.String({ maxLength: 253 }), { maxItems: maxServingNames })),
    expirationSeconds: Type.Optional(Type.Integer({ minimum: minLifetimeSeconds })),
  },
  { additionalProperties: false },
);

export interface NodeCredentialsConfig {
  readonly ca: NodeCertificateAuthority;
  /** Lifetime of issued certificates (and the most a request may ask for). Default 365 days. */
  readonly maxLifetimeMs?: number;
}

export interface NodeCredentialsDeps {
  readonly registry: ApiRegistry;
  readonly clock: Clock;
  readonly log: Logger;
}

function invalidField(field: string, message: string): Error {
  return invalid(`Invalid ${field}: ${message}`, {
    details: { kind: 'NodeCredentials', causes: [{ reason: 'FieldValueInvalid', message, field }] },
  });
}

export class NodeCredentialsHandler {
  readonly #config: NodeCredentialsConfig;
  readonly #deps: NodeCredentialsDeps;
  readonly #tokens: BootstrapTokenAuthenticator;

  constructor(deps: NodeCredentialsDeps, config: NodeCredentialsConfig) {
    this.#deps = deps;
    this.#config = config;
    this.#tokens = new BootstrapTokenAuthenticator(deps);
  }

  /** Whether `path` is one of this handler's (they run before the authentication check). */
  serves(path: string): boolean {
    return path === caCertsPath || path === nodeCredentialsPath;
  }

  async handle(ctx: RequestContext): Promise<void> {
    if (ctx.path === caCertsPath) {
      if (ctx.method !== 'GET' && ctx.method !== 'HEAD')
        throw methodNotAllowed('Only GET is allowed on /cacerts');
      return writeText(ctx.res, 200, this.#config.ca.caCertPem, 'application/x-pem-file');
    }
    if (ctx.method !== 'POST') throw methodNotAllowed(`Only POST is allowed on ${nodeCredentialsPath}`);
    const allowedName = await this.#authenticate(ctx);
    const body = parseWith(
      NodeCredentialsRequest,
      decodeJson(await readBody(ctx.req, maxBodyBytes)),
      'NodeCredentials request',
    );
    const nodeName = body.nodeName;
    ctx.logFields['node'] = nodeName;
    if (!nodeNamePattern.test(nodeName)) {
      throw invalidField(
        'nodeName',
        `"${nodeName}" is not a lowercase RFC 1123 subdomain (a-z, 0-9, "-", "."; starting and ending with a letter or digit)`,
      );
    }
    if (allowedName !== undefined && allowedName !== nodeName) {
      throw forbidden(
        `User "${ctx.user?.name ?? ''}" cannot get credentials for node "${nodeName}": a node may renew only its own`,
      );
    }
    const names = body.servingNames ?? [];
    for (const [i, n] of names.entries()) {
      if (isIP(n) === 0 && !n.split('.').every((label) => dnsLabelPattern.test(label))) {
        throw invalidField(`servingNames[${i}]`, `"${n}" is neither an IP address nor a DNS name`);
      }
    }
    const maxLifetimeMs = this.#config.maxLifetimeMs ?? 365 * dayMs;
    const lifetimeMs =
      body.expirationSeconds !== undefined
        ? Math.min(body.expirationSeconds * 1000, maxLifetimeMs)
        : maxLifetimeMs;
    const issued = await issueNodeCertificates(this.#config.ca, {
      nodeName,
      clientPublicKeyPem: body.clientPublicKey,
      ...(body.servingPublicKey !== undefined ? { servingPublicKeyPem: body.servingPublicKey } : {}),
      servingNames: names,
      lifetimeMs,
      nowMs: this.#deps.clock.now(),
    });
    this.#deps.log.info('Issued node credentials', {
      node: nodeName,
      requestedBy: ctx.user?.name,
      expires: new Date(issued.expiresMs).toISOString(),
      hasServingCertificate: issued.servingCertificate !== undefined,
    });
    return writeJson(ctx.res, 201, {
      apiVersion: 'h8s.io/v1',
      kind: 'NodeCredentials',
      nodeName,
      clientCertificate: issued.clientCertificate,
      ...(issued.servingCertificate !== undefined ? { servingCertificate: issued.servingCertificate } : {}),
      caCertificate: this.#config.ca.caCertPem,
      expirationTimestamp: new Date(issued.expiresMs).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    });
  }

  /**
   * Who may ask: returns the only node name the caller may get credentials for, or undefined
   * for any name. Sets `ctx.user` for a bootstrap token.
   * @throws Unauthorized, Forbidden
   */
  async #authenticate(ctx: RequestContext): Promise<string | undefined> {
    const user = ctx.user;
    if (user) {
      if (user.groups.includes('system:masters')) return undefined;
      if (user.name.startsWith('system:node:') && user.groups.includes('system:nodes')) {
        return user.name.slice('system:node:'.length);
      }
      throw forbidden(`User "${user.name}" cannot get node credentials: only nodes and bootstrap tokens may`);
    }
    const header = ctx.req.headers.authorization;
    const m = typeof header === 'string' ? /^Bearer\s+(\S{1,256})\s*$/i.exec(header) : null;
    if (!m) throw unauthorized('Unauthorized');
    const verdict = await this.#tokens.authenticate(m[1] as string);
    if (!verdict.isValid) {
      ctx.logFields['bootstrapToken'] = verdict.reason;
      if (verdict.reason === 'expired') throw unauthorized('Unauthorized: the bootstrap token has expired');
      throw unauthorized('Unauthorized');
    }
    ctx.user = verdict.user;
    return undefined;
  }
}
