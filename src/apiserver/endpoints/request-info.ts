/**
 * Resolves a request path into what it addresses (upstream `RequestInfoFactory`):
 *
 *   /api/v1/namespaces/{ns}/{resource}[/{name}[/{subresource}]]
 *   /apis/{group}/{version}/namespaces/{ns}/{resource}[/{name}[/{subresource}]]
 *   /api/v1/{resource}[/{name}[/{subresource}]]             (cluster-scoped, or all namespaces)
 *   /api/v1/namespaces/{name}[/status|/finalize]            (the namespace itself)
 *
 * and the verb (get, list, watch, create, update, patch, delete, deletecollection). Anything
 * else under /api and /apis is discovery; everything outside is a non-resource path.
 */

export type ResourceVerb =
  'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection' | 'connect';

export interface ResourceRequest {
  readonly type: 'resource';
  readonly group: string;
  readonly version: string;
  readonly namespace: string | undefined;
  readonly resource: string;
  readonly name: string | undefined;
  readonly subresource: string | undefined;
  readonly verb: ResourceVerb;
}

export interface DiscoveryRequest {
  readonly type: 'discovery';
  /** `/api`, `/apis`, `/api/v1`, `/apis/{g}`, `/apis/{g}/{v}`. */
  readonly prefix: 'api' | 'apis';
  readonly group: string | undefined;
  readonly version: string | undefined;
}

export interface NonResourceRequest {
  readonly type: 'nonResource';
  readonly path: string;
}

export type RequestInfo = ResourceRequest | DiscoveryRequest | NonResourceRequest;

/** Subresources of a namespace that keep the path from meaning "resources in namespace X". */
const namespaceSubresources = new Set(['status', 'finalize']);

function isWatch(query: URLSearchParams): boolean {
  const w = query.get('watch');
  return w === 'true' || w === '1';
}

/**
 * Splits the path into segments (decoding each); undefined when a segment cannot be decoded.
 */
export function splitPath(pathname: string): string[] | undefined {
  const parts: string[] = [];
  for (const raw of pathname.split('/')) {
    if (raw === '') continue;
    try {
      parts.push(decodeURIComponent(raw));
    } catch {
      return undefined;
    }
  }
  return parts;
}

export function resolveRequestInfo(method: string, pathname: string, query: URLSearchParams): RequestInfo {
  const parts = splitPath(pathname);
  if (!parts || parts.length === 0 || (parts[0] !== 'api' && parts[0] !== 'apis')) {
    return { type: 'nonResource', path: pathname };
  }
  const prefix = parts[0] as 'api' | 'apis';
  let rest = parts.slice(1);
  let group = '';
  if (prefix === 'apis') {
    if (rest.length === 0) return { type: 'discovery', prefix, group: undefined, version: undefined };
    group = rest[0] as string;
    rest = rest.slice(1);
    if (rest.length === 0) return { type: 'discovery', prefix, group, version: undefined };
  } else if (rest.length === 0) {
    return { type: 'discovery', prefix, group: undefined, version: undefined };
  }
  const version = rest[0] as string;
  rest = rest.slice(1);
  if (rest.length === 0) return { type: 'discovery', prefix, group: prefix === 'apis' ? group : '', version };

  // Legacy `/watch/` paths: /api/v1/watch/namespaces/{ns}/pods
  let watchPath = false;
  if (rest[0] === 'watch') {
    watchPath = true;
    rest = rest.slice(1);
  }
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length > 1) {
    namespace = rest[1];
    if (rest.length > 2 && !namespaceSubresources.has(rest[2] as string)) {
      rest = rest.slice(2);
    } else {
      // The namespace object itself: /api/v1/namespaces/{name}[/status|/finalize]
      namespace = undefined;
    }
  }
  const resource = rest[0] as string;
  const name = rest[1];
  const subresource = rest.length > 2 ? rest.slice(2).join('/') : undefined;
  if (resource === undefined || resource === '' || rest.length > 4) {
    return { type: 'nonResource', path: pathname };
  }
  let verb: ResourceVerb;
  switch (method) {
    case 'GET':
    case 'HEAD':
      verb =
        name === undefined ? (watchPath || isWatch(query) ? 'watch' : 'list') : watchPath ? 'watch' : 'get';
      break;
    case 'POST':
      verb = 'create';
      break;
    case 'PUT':
      verb = 'update';
      break;
    case 'PATCH':
      verb = 'patch';
      break;
    case 'DELETE':
      verb = name === undefined ? 'deletecollection' : 'delete';
      break;
    default:
      verb = 'connect';
  }
  return { type: 'resource', group, version, namespace, resource, name, subresource, verb };
}
