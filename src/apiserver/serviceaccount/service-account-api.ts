/**
 * The service-account parts of the API (upstream: the TokenRequest REST storage, the
 * authentication.k8s.io group, the service-account token authenticator and the issuer
 * discovery endpoints), served beside the generic registry because none of them is stored:
 *
 * - `POST /api/v1/namespaces/{ns}/serviceaccounts/{name}/token`: TokenRequest → a bound JWT;
 * - `POST /apis/authentication.k8s.io/v1/tokenreviews`: TokenReview of any bearer token;
 * - `POST /apis/authentication.k8s.io/v1/selfsubjectreviews`: who the caller is (`kubectl auth whoami`);
 * - `GET /.well-known/openid-configuration` and `/openid/v1/jwks`: the issuer's OIDC metadata
 *   and public keys, readable without a credential so other systems can verify tokens.
 *
 * Bodies may be JSON, YAML or Kubernetes protobuf (kubectl 1.32+ sends protobuf).
 */
import type { IncomingMessage } from 'node:http';
import { decodeKubernetesProtobuf, formatTime, invalidCause, invalidObjectError } from '../../api/index.js';
import {
  badRequest,
  conflict,
  isRecord,
  methodNotAllowed,
  notFound,
  type Clock,
  type Logger,
} from '../../lib/index.js';
import type { KeyValueStore } from '../../storage/index.js';
import type { DiscoveryResource } from '../endpoints/discovery.js';
import type { RequestContext } from '../endpoints/request-context.js';
import { decodeJson, decodeYaml, objectBodyFormat, readBody } from '../endpoints/request-body.js';
import type { ResourceRequest } from '../endpoints/request-info.js';
import { writeJson } from '../endpoints/responses.js';
import type { UserInfo } from '../filters/user-info.js';
import { ServiceAccountAdmission } from '../admission/service-account-admission.js';
import { ServiceAccountTokens } from './service-account-tokens.js';
import type { ServiceAccountSigningKey } from './signing-key.js';
import { StoredObjects } from './stored-objects.js';

export interface ServiceAccountConfig {
  readonly signingKey: ServiceAccountSigningKey;
  /** `--service-account-issuer`; default `https://kubernetes.default.svc.cluster.local`. */
  readonly issuer?: string | undefined;
  /** Audiences the server accepts for its own API; default `[issuer]`. */
  readonly apiAudiences?: readonly string[] | undefined;
  /** Longer requests are shortened to this (upstream `--service-account-max-token-expiration`); default 48 h. */
  readonly maxExpirationSeconds?: number | undefined;
  /**
   * Run the ServiceAccount admission plugin (pods get `default`, must name an existing account
   * and get the token volume). Needs the service-account controller, which creates `default`.
   */
  readonly isAdmissionEnabled?: boolean | undefined;
}

const group = 'authentication.k8s.io';
const apiVersion = `${group}/v1`;
const minExpirationSeconds = 600;
const defaultExpirationSeconds = 3600;
const defaultMaxExpirationSeconds = 48 * 3600;
const maxBodyBytes = 64 * 1024;

export const wellKnownOpenIdPath = '/.well-known/openid-configuration';
export const jwksPath = '/openid/v1/jwks';

export class ServiceAccountApi {
  readonly tokens: ServiceAccountTokens;
  readonly objects: StoredObjects;
  /** The admission plugin, when enabled. */
  readonly admission: ServiceAccountAdmission | undefined;
  readonly #config: ServiceAccountConfig;
  readonly #clock: Clock;

  constructor(config: ServiceAccountConfig, deps: { store: KeyValueStore; clock: Clock; log: Logger }) {
    this.#config = config;
    this.#clock = deps.clock;
    this.objects = new StoredObjects({ store: deps.store, clock: deps.clock });
    this.tokens = new ServiceAccountTokens({
      signingKey: config.signingKey,
      issuer: config.issuer,
      apiAudiences: config.apiAudiences,
      objects: this.objects,
      clock: deps.clock,
      log: deps.log.child({ component: 'serviceaccount-tokens' }),
    });
    this.admission = config.isAdmissionEnabled
      ? new ServiceAccountAdmission({ objects: this.objects, clock: deps.clock })
      : undefined;
  }

  /** What discovery lists for the authentication.k8s.io group (nothing of it is stored). */
  static readonly discoveryResources: readonly DiscoveryResource[] = [
    {
      group,
      version: 'v1',
      resource: 'selfsubjectreviews',
      singular: 'selfsubjectreview',
      kind: 'SelfSubjectReview',
      namespaced: false,
      verbs: ['create'],
    },
    {
      group,
      version: 'v1',
      resource: 'tokenreviews',
      singular: 'tokenreview',
      kind: 'TokenReview',
      namespaced: false,
      verbs: ['create'],
    },
  ];

  /**
   * The user a service-account bearer token authenticates as; undefined when the request has
   * no such token or it is not valid (the request is then a 401, as for any bad token).
   */
  async authenticate(req: IncomingMessage): Promise<UserInfo | undefined> {
    const token = bearerToken(req);
    if (token === undefined) return undefined;
    const verdict = await this.tokens.validate(token);
    return verdict?.isValid ? verdict.user : undefined;
  }

  /** Whether this serves the request (cheap; no I/O). */
  handles(info: ResourceRequest): boolean {
    if (info.group === '' && info.resource === 'serviceaccounts' && info.subresource === 'token') return true;
    return (
      info.group === group &&
      info.version === 'v1' &&
      (info.resource === 'tokenreviews' || info.resource === 'selfsubjectreviews')
    );
  }

  /** Whether `path` is one of the issuer discovery paths. */
  static isDiscoveryPath(path: string): boolean {
    return path === wellKnownOpenIdPath || path === jwksPath;
  }

  async handle(ctx: RequestContext, info: ResourceRequest): Promise<void> {
    ctx.logFields['resource'] = info.group === '' ? info.resource : `${info.resource}.${info.group}`;
    if (info.name !== undefined) ctx.logFields['name'] = info.name;
    if (info.namespace !== undefined) ctx.logFields['namespace'] = info.namespace;
    if (info.resource === 'serviceaccounts') {
      if (info.namespace === undefined || info.name === undefined) throw notFoundPath();
      if (info.verb !== 'create') throw notAllowed();
      return this.#tokenRequest(ctx, info.namespace, info.name);
    }
    if (info.namespace !== undefined || info.name !== undefined || info.subresource !== undefined)
      throw notFoundPath();
    if (info.verb !== 'create') throw notAllowed();
    if (info.resource === 'tokenreviews') return this.#tokenReview(ctx);
    return this.#selfSubjectReview(ctx);
  }

  /** Serves the issuer discovery documents (OIDC metadata and the JWKS). */
  handleDiscovery(ctx: RequestContext): void {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') throw notAllowed();
    const headers = { 'Cache-Control': 'public, max-age=3600' };
    if (ctx.path === wellKnownOpenIdPath) {
      const base = this.tokens.issuer.replace(/\/+$/, '');
      return writeJson(
        ctx.res,
        200,
        {
          issuer: this.tokens.issuer,
          jwks_uri: `${base}${jwksPath}`,
          response_types_supported: ['id_token'],
          subject_types_supported: ['public'],
          id_token_signing_alg_values_supported: [
            ...new Set(this.tokens.verificationKeys.map((k) => k.algorithm)),
          ],
        },
        headers,
      );
    }
    const keys = this.tokens.verificationKeys.map((k) => ({
      ...(k.publicKey.export({ format: 'jwk' }) as Record<string, unknown>),
      use: 'sig',
      kid: k.keyId,
      alg: k.algorithm,
    }));
    return writeJson(ctx.res, 200, { keys }, { ...headers, 'Content-Type': 'application/jwk-set+json' });
  }

  async #readBody(ctx: RequestContext): Promise<Record<string, unknown>> {
    const format = objectBodyFormat(ctx.req.headers['content-type']);
    const bytes = await readBody(ctx.req, maxBodyBytes);
    let value: unknown;
    if (format === 'protobuf') value = decodeKubernetesProtobuf(bytes);
    else if (format === 'yaml') value = decodeYaml(bytes);
    else value = bytes.length === 0 ? {} : decodeJson(bytes);
    if (!isRecord(value)) throw badRequest('The request body must be an object');
    return value;
  }

  async #tokenRequest(ctx: RequestContext, namespace: string, name: string): Promise<void> {
    const body = await this.#readBody(ctx);
    checkKind(body, 'TokenRequest');
    const spec = isRecord(body['spec']) ? body['spec'] : {};
    const audiences = stringList(spec['audiences'], 'spec.audiences');
    const requested = spec['expirationSeconds'] ?? defaultExpirationSeconds;
    if (typeof requested !== 'number' || !Number.isInteger(requested)) {
      throw badRequest('spec.expirationSeconds must be an integer');
    }
    if (requested < minExpirationSeconds) {
      throw invalidObjectError(
        'TokenRequest',
        name,
        [
          invalidCause(
            'spec.expirationSeconds',
            requested,
            'may not specify a duration less than 10 minutes',
          ),
        ],
        group,
      );
    }
    if (requested > 2 ** 32) {
      throw invalidObjectError(
        'TokenRequest',
        name,
        [
          invalidCause(
            'spec.expirationSeconds',
            requested,
            'may not specify a duration larger than 2^32 seconds',
          ),
        ],
        group,
      );
    }
    const expirationSeconds = Math.min(
      requested,
      this.#config.maxExpirationSeconds ?? defaultMaxExpirationSeconds,
    );
    const sa = await this.objects.find('ServiceAccount', namespace, name);
    if (!sa) {
      throw notFound(`serviceaccounts "${name}" not found`, {
        details: { name, group: '', kind: 'serviceaccounts' },
      });
    }
    let bound: { kind: 'Pod' | 'Secret'; ref: { name: string; uid: string } } | undefined;
    let node: { name: string; uid: string } | undefined;
    const ref = spec['boundObjectRef'];
    if (isRecord(ref)) {
      const kind = ref['kind'];
      const refApiVersion = typeof ref['apiVersion'] === 'string' ? ref['apiVersion'] : 'v1';
      const refName = typeof ref['name'] === 'string' ? ref['name'] : '';
      const isKnown = kind === 'Pod' || kind === 'Secret' || kind === 'Node';
      if (!isKnown || (refApiVersion !== 'v1' && refApiVersion !== '')) {
        throw badRequest(
          `cannot bind token to object of type ${refApiVersion === 'v1' || refApiVersion === '' ? '/v1' : refApiVersion}, Kind=${String(kind)}`,
        );
      }
      const obj = await this.objects.find(kind, kind === 'Node' ? undefined : namespace, refName);
      if (!obj) {
        const resource = kind === 'Pod' ? 'pods' : kind === 'Node' ? 'nodes' : 'secrets';
        throw notFound(`${resource} "${refName}" not found`, {
          details: { name: refName, group: '', kind: resource },
        });
      }
      if (kind === 'Pod') {
        const podSa =
          (obj['spec'] as { serviceAccountName?: string } | undefined)?.serviceAccountName || 'default';
        if (podSa !== name) {
          throw badRequest(
            `cannot bind token for serviceaccount "${name}" to pod running with different serviceaccount name.`,
          );
        }
        const nodeName = (obj['spec'] as { nodeName?: string } | undefined)?.nodeName;
        if (nodeName) {
          const n = await this.objects.find('Node', undefined, nodeName);
          if (n?.metadata.uid) node = { name: nodeName, uid: n.metadata.uid };
        }
      }
      const uid = obj.metadata.uid ?? '';
      if (typeof ref['uid'] === 'string' && ref['uid'] !== '' && ref['uid'] !== uid) {
        throw conflict(
          `Operation cannot be fulfilled on ${kind} "${refName}": the UID in the bound object reference (${ref['uid']}) does not match the UID in record. The object might have been deleted and then recreated`,
          { details: { name: refName, group: '', kind } },
        );
      }
      // A node-bound token (upstream 1.31+) carries only the node claim and dies with the node.
      if (kind === 'Node') node = { name: refName, uid };
      else bound = { kind, ref: { name: refName, uid } };
    }
    const issued = this.tokens.issue({
      namespace,
      serviceAccount: { name, uid: sa.metadata.uid ?? '' },
      audiences: audiences.length > 0 ? audiences : this.tokens.apiAudiences,
      expirationSeconds,
      bound,
      node,
    });
    const metadata = isRecord(body['metadata']) ? body['metadata'] : {};
    writeJson(ctx.res, 201, {
      kind: 'TokenRequest',
      apiVersion,
      metadata: { ...metadata, name, namespace, creationTimestamp: null },
      spec: {
        audiences: audiences.length > 0 ? audiences : [...this.tokens.apiAudiences],
        expirationSeconds,
        boundObjectRef: isRecord(ref) ? { ...ref, ...(bound ? { uid: bound.ref.uid } : {}) } : null,
      },
      status: { token: issued.token, expirationTimestamp: formatTime(issued.expiresAtMs) },
    });
  }

  async #tokenReview(ctx: RequestContext): Promise<void> {
    const body = await this.#readBody(ctx);
    checkKind(body, 'TokenReview');
    const spec = isRecord(body['spec']) ? body['spec'] : {};
    const token = typeof spec['token'] === 'string' ? spec['token'] : '';
    if (token === '') {
      throw invalidObjectError(
        'TokenReview',
        '',
        [
          {
            reason: 'FieldValueRequired',
            message: 'Required value: token must not be empty',
            field: 'spec.token',
          },
        ],
        group,
      );
    }
    const audiences = stringList(spec['audiences'], 'spec.audiences');
    const verdict = await this.tokens.validate(token, audiences.length > 0 ? audiences : undefined);
    const status: Record<string, unknown> = verdict?.isValid
      ? { authenticated: true, user: userJson(verdict.user), audiences: [...verdict.audiences] }
      : {
          user: {},
          error: verdict
            ? `[invalid bearer token, ${verdict.error}]`
            : '[invalid bearer token, Token could not be validated.]',
        };
    writeJson(ctx.res, 201, {
      kind: 'TokenReview',
      apiVersion,
      metadata: { creationTimestamp: null },
      spec: { token, ...(audiences.length > 0 ? { audiences } : {}) },
      status,
    });
  }

  async #selfSubjectReview(ctx: RequestContext): Promise<void> {
    // The body carries nothing a review needs; read it only to enforce the limit.
    await readBody(ctx.req, maxBodyBytes);
    writeJson(ctx.res, 201, {
      kind: 'SelfSubjectReview',
      apiVersion,
      metadata: { creationTimestamp: formatTime(this.#clock.now()) },
      status: {
        userInfo: ctx.user
          ? userJson(ctx.user)
          : { username: 'system:anonymous', groups: ['system:unauthenticated'] },
      },
    });
  }
}

function userJson(user: UserInfo): Record<string, unknown> {
  return {
    username: user.name,
    ...(user.uid ? { uid: user.uid } : {}),
    groups: [...user.groups],
    ...(user.extra && Object.keys(user.extra).length > 0 ? { extra: user.extra } : {}),
  };
}

function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (typeof header !== 'string' || header.length > 16 * 1024) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1] : undefined;
}

function checkKind(body: Record<string, unknown>, kind: string): void {
  if (body['kind'] !== undefined && body['kind'] !== kind) {
    throw badRequest(
      `the body of the request was in an unknown format: ${String(body['kind'])} is not a ${kind}`,
    );
  }
  if (body['apiVersion'] !== undefined && body['apiVersion'] !== apiVersion) {
    throw badRequest(
      `the API version in the data (${String(body['apiVersion'])}) does not match the expected API version (${apiVersion})`,
    );
  }
}

function stringList(value: unknown, field: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw badRequest(`${field} must be a list of strings`);
  }
  return value as string[];
}

function notFoundPath(): Error {
  return notFound('the server could not find the requested resource');
}

function notAllowed(): Error {
  return methodNotAllowed('the server does not allow this method on the requested resource');
}
