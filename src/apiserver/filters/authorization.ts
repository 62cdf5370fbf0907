/**
 * Authorization (upstream `authorization/authorizer` and the `WithAuthorization` filter): the
 * step after authentication and before any handler, so a request that may not happen never
 * reaches discovery, admission or the store. The server asks one `Authorizer` per request; RBAC
 * and Keystone tenancy plug in here (a union of authorizers, as upstream's, is an Authorizer).
 *
 * Without an authorizer every authenticated request is allowed (what h8s did before it had
 * one); public paths (health, version) are not asked about, as upstream's
 * `system:public-info-viewer` allows them to everyone.
 */
import { forbidden, type H8sError } from '../../lib/index.js';
import type { UserInfo } from './user-info.js';

/** What a request wants to do (upstream `authorizer.Attributes`). */
export type AuthorizationAttributes =
  | {
      readonly isResourceRequest: true;
      readonly user: UserInfo;
      /** get, list, watch, create, update, patch, delete, deletecollection. */
      readonly verb: string;
      /** The API group ('' for core). */
      readonly group: string;
      readonly version: string;
      /** The plural resource, e.g. `pods`. */
      readonly resource: string;
      /** e.g. `status`, `scale`, `binding`, `log`. */
      readonly subresource: string | undefined;
      /** Undefined for cluster-scoped resources and requests across all namespaces. */
      readonly namespace: string | undefined;
      /** Undefined for collection requests (list, watch, create, deletecollection). */
      readonly name: string | undefined;
    }
  | {
      readonly isResourceRequest: false;
      readonly user: UserInfo;
      /** The HTTP method in lower case (`get`, `post`, ...), as upstream's non-resource verbs. */
      readonly verb: string;
      /** The URL path, e.g. `/api`, `/openapi/v3`. */
      readonly path: string;
    };

/** Upstream's decisions: NoOpinion lets the next authorizer of a union decide. */
export type AuthorizationDecision =
  { readonly decision: 'Allow' } | { readonly decision: 'Deny' | 'NoOpinion'; readonly reason?: string };

export interface Authorizer {
  /**
   * Whether `attributes.user` may make the request. Must not throw for a refusal (that is a
   * Deny); a throw is an error of the authorizer (500).
   */
  authorize(attributes: AuthorizationAttributes): Promise<AuthorizationDecision>;
}

/** The 403 of a request the authorizer did not allow, worded as upstream's. */
export function forbiddenRequest(attributes: AuthorizationAttributes, reason?: string): H8sError {
  const who = `User "${attributes.user.name}"`;
  const why = reason ? `: ${reason}` : '';
  if (!attributes.isResourceRequest) {
    return forbidden(`forbidden: ${who} cannot ${attributes.verb} path "${attributes.path}"${why}`);
  }
  const resource = attributes.subresource
    ? `${attributes.resource}/${attributes.subresource}`
    : attributes.resource;
  const qualified =
    attributes.group === '' ? attributes.resource : `${attributes.resource}.${attributes.group}`;
  const scope =
    attributes.namespace !== undefined
      ? `in the namespace "${attributes.namespace}"`
      : 'at the cluster scope';
  const subject = attributes.name !== undefined ? `${qualified} "${attributes.name}"` : qualified;
  return forbidden(
    `${subject} is forbidden: ${who} cannot ${attributes.verb} resource "${resource}" in API group "${attributes.group}" ${scope}${why}`,
    {
      details: {
        ...(attributes.name !== undefined ? { name: attributes.name } : {}),
        group: attributes.group,
        kind: attributes.resource,
      },
    },
  );
}

/**
 * Asks `authorizer` about a request and throws the 403 unless it is allowed.
 * @throws Forbidden; what the authorizer throws.
 */
export async function authorizeRequest(
  authorizer: Authorizer,
  attributes: AuthorizationAttributes,
): Promise<void> {
  const verdict = await authorizer.authorize(attributes);
  if (verdict.decision === 'Allow') return;
  throw forbiddenRequest(attributes, verdict.reason);
}
