/**
 * A client of the OCI distribution API / Docker Registry HTTP API v2: resolving references to
 * manifests (through image indexes and manifest lists), fetching blobs with resume and digest
 * verification, pushing blobs and manifests, and the three auth schemes (anonymous, Bearer
 * tokens from the WWW-Authenticate challenge, Basic).
 *
 * Transport policy, as in Docker: https with certificate checks; a registry marked insecure
 * (every 127.0.0.0/8 registry is, plus configured ones) may use plain http or unverified TLS.
 * Credentials are only ever sent over https or to an insecure (loopback/configured) host.
 */
import { createHash, type Hash } from 'node:crypto';
import { open, rm, stat } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import {
  H8sError,
  forbidden,
  invalid,
  isRecord,
  isUnavailable,
  notFound,
  parseJson,
  parseWith,
  systemClock,
  tooManyRequests,
  unauthorized,
  unavailable,
  type Clock,
  type Logger,
} from '../lib/index.js';
import type { RegistryAuth } from './image-service.js';
import { sha256Digest } from './digest.js';
import {
  IndexSchema,
  ManifestSchema,
  TokenResponseSchema,
  indexMediaTypes,
  manifestMediaTypes,
  mediaTypes,
  type Descriptor,
  type ImageIndex,
  type Manifest,
} from './oci-schemas.js';
import { dockerHubRegistry, isLoopbackRegistry, type ImageReference } from './reference.js';
import {
  discardBody,
  headerValue,
  httpRequest,
  readBodyLimited,
  type HttpResponse,
} from './registry-http.js';

export interface RegistryClientOptions {
  readonly log: Logger;
  readonly clock?: Clock;
  /** Registries (host or host:port) allowed over plain http / unverified TLS, besides loopback. */
  readonly insecureRegistries?: readonly string[];
  /** Pull-through mirrors per registry: `{ 'docker.io': ['http://127.0.0.1:5001'] }`, tried in order. */
  readonly mirrors?: Readonly<Record<string, readonly string[]>>;
  /** Looks up stored credentials (docker config.json) for a registry host. */
  readonly credentials?: (registry: string) => Promise<RegistryAuth | undefined>;
  /** Largest manifest or index accepted. Default 4 MiB (as Docker and containerd). */
  readonly maxManifestBytes?: number;
  /** Attempts per blob before giving up (each resumes where the last stopped). Default 4. */
  readonly blobAttempts?: number;
  readonly idleTimeoutMs?: number;
}

export interface ResolvedManifest {
  /** Digest of the image manifest (the platform one when `ref` named an index). */
  readonly digest: string;
  readonly mediaType: string;
  readonly bytes: Buffer;
  readonly manifest: Manifest;
  /** The index or manifest list the manifest was chosen from, if any. */
  readonly index?: { readonly digest: string; readonly mediaType: string; readonly bytes: Buffer };
  /** The endpoint that answered (a mirror or the registry itself). */
  readonly endpoint: string;
}

export interface BlobProgress {
  readonly currentBytes: number;
  readonly totalBytes: number;
}

interface Endpoint {
  /** Base URL, e.g. `https://registry-1.docker.io` or `http://127.0.0.1:5000`. */
  readonly url: URL;
  /** Host whose credentials apply. */
  readonly authHost: string;
  readonly insecure: boolean;
  readonly isMirror: boolean;
}

interface Challenge {
  readonly scheme: string;
  readonly params: Readonly<Record<string, string>>;
}

const manifestAccept = [
  mediaTypes.ociIndex,
  mediaTypes.ociManifest,
  mediaTypes.dockerManifestList,
  mediaTypes.dockerManifest,
  mediaTypes.dockerSchema1Signed,
  mediaTypes.dockerSchema1,
].join(', ');

const maxErrorBodyBytes = 64 * 1024;

/** Parses `Bearer realm="…",service="…"` style challenges (RFC 7235). */
export function parseChallenges(header: string): Challenge[] {
  const out: Challenge[] = [];
  const re = /\s*([A-Za-z][A-Za-z0-9_-]*)\s*(?:=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*)))?\s*(,?)/y;
  let cur: { scheme: string; params: Record<string, string> } | undefined;
  let pos = 0;
  while (pos < header.length) {
    re.lastIndex = pos;
    const m = re.exec(header);
    if (!m || m[0] === '') break;
    pos = re.lastIndex;
    const [, name, quoted, bare] = m;
    if (quoted === undefined && bare === undefined) {
      // A token without "=" starts a new challenge (its scheme).
      cur = { scheme: name!.toLowerCase(), params: {} };
      out.push(cur);
      // The scheme may be followed by the first param without a comma.
      continue;
    }
    if (cur) cur.params[name!.toLowerCase()] = quoted !== undefined ? quoted.replace(/\\(.)/g, '$1') : bare!;
  }
  return out;
}

function describeRef(ref: ImageReference): string {
  const repo =
    ref.registry === dockerHubRegistry
      ? ref.repository.replace(/^library\//, '')
      : `${ref.registry}/${ref.repository}`;
  return `${repo}${ref.tag !== undefined ? ':' + ref.tag : ''}${ref.digest !== undefined ? '@' + ref.digest : ''}`;
}

/** Platform string `os/arch[/variant]` → parts, with Go's architecture names. */
export function parsePlatform(platform: string): { os: string; architecture: string; variant?: string } {
  const parts = platform.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[a-z0-9._-]+$/.test(p))) {
    throw invalid(`Invalid platform "${platform.slice(0, 100)}": want os/arch[/variant], e.g. "linux/amd64"`);
  }
  const arch =
    (
      { x86_64: 'amd64', 'x86-64': 'amd64', aarch64: 'arm64', armhf: 'arm', armel: 'arm' } as Record<
        string,
        string
      >
    )[parts[1]!] ?? parts[1]!;
  return { os: parts[0]!, architecture: arch, ...(parts[2] !== undefined ? { variant: parts[2] } : {}) };
}

/** Picks the manifest for `platform` from an index (the first match, as Docker does). */
export function selectPlatform(index: ImageIndex, platform: string): Descriptor | undefined {
  const want = parsePlatform(platform);
  const candidates = index.manifests.filter(
    (m) =>
      m.platform &&
      m.platform.os === want.os &&
      m.platform.architecture === want.architecture &&
      manifestMediaTypes.includes(m.mediaType),
  );
  if (want.variant !== undefined) {
    const exact = candidates.find((m) => m.platform?.variant === want.variant);
    if (exact) return exact;
    // arm64 images often omit the default variant v8
    if (want.architecture === 'arm64' && want.variant === 'v8')
      return candidates.find((m) => m.platform?.variant === undefined);
    return undefined;
  }
  return candidates[0];
}

export class RegistryClient {
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #insecure: ReadonlySet<string>;
  readonly #mirrors: Readonly<Record<string, readonly string[]>>;
  readonly #credentials: (registry: string) => Promise<RegistryAuth | undefined>;
  readonly #maxManifestBytes: number;
  readonly #blobAttempts: number;
  readonly #idleTimeoutMs: number;
  /** Bearer tokens per `endpoint|scope`, and which endpoints want Basic. */
  readonly #tokens = new Map<string, { token: string; expiresAtMs: number }>();
  readonly #basicHosts = new Set<string>();
  /** Insecure hosts that answered plain http after https failed. */
  readonly #plainHttpHosts = new Set<string>();

  constructor(options: RegistryClientOptions) {
    this.#log = options.log;
    this.#clock = options.clock ?? systemClock;
    this.#insecure = new Set(options.insecureRegistries ?? []);
    this.#mirrors = options.mirrors ?? {};
    this.#credentials = options.credentials ?? (async () => undefined);
    this.#maxManifestBytes = options.maxManifestBytes ?? 4 * 1024 * 1024;
    this.#blobAttempts = options.blobAttempts ?? 4;
    this.#idleTimeoutMs = options.idleTimeoutMs ?? 30_000;
  }

  isInsecure(host: string): boolean {
    return isLoopbackRegistry(host) || this.#insecure.has(host);
  }

  #endpoint(hostOrUrl: string, authHost: string, isMirror: boolean): Endpoint {
    let url: URL;
    if (/^https?:\/\//.test(hostOrUrl)) url = new URL(hostOrUrl);
    else {
      const host = hostOrUrl === dockerHubRegistry ? 'registry-1.docker.io' : hostOrUrl;
      url = new URL(`https://${host}`);
    }
    const insecure = this.isInsecure(url.host) || this.isInsecure(authHost);
    if (url.protocol === 'http:' && !insecure) {
      throw invalid(
        `Refusing plain http to registry "${url.host}": only insecure registries (loopback or configured) may use http`,
      );
    }
    return { url, authHost: isMirror ? url.host : authHost, insecure, isMirror };
  }

  /** Endpoints to try for pulls from `registry`: its mirrors in order, then itself. */
  #pullEndpoints(registry: string): Endpoint[] {
    const mirrors = (this.#mirrors[registry] ?? []).map((m) => this.#endpoint(m, registry, true));
    return [...mirrors, this.#endpoint(registry, registry, false)];
  }

  async #auth(ep: Endpoint, explicit: RegistryAuth | undefined): Promise<RegistryAuth | undefined> {
    if (explicit && !ep.isMirror) return explicit;
    return this.#credentials(ep.isMirror ? ep.url.host : ep.authHost);
  }

  /**
   * One request with the auth dance: cached credentials first, and on 401 the challenge is
   * answered once (token fetch or Basic) and the request repeated.
   */
  async #send(
    ep: Endpoint,
    scope: string,
    auth: RegistryAuth | undefined,
    req: {
      method: 'GET' | 'HEAD' | 'POST' | 'PUT';
      path: string;
      headers?: Record<string, string>;
      body?: Buffer;
      signal?: AbortSignal | undefined;
    },
  ): Promise<HttpResponse> {
    const creds = await this.#auth(ep, auth);
    const tokenKey = tokenCacheKey(ep.url.host, scope, creds);
    let url = new URL(req.path, ep.url);
    const authHeader = (): Record<string, string> => {
      const cached = this.#tokens.get(tokenKey);
      if (cached && cached.expiresAtMs > this.#clock.now())
        return { authorization: `Bearer ${cached.token}` };
      if (this.#basicHosts.has(ep.url.host) && creds?.username !== undefined) {
        return {
          authorization:
            'Basic ' + Buffer.from(`${creds.username}:${creds.password ?? ''}`).toString('base64'),
        };
      }
      return {};
    };
    for (let attempt = 0; ; attempt++) {
      let res = await this.#request(ep, {
        ...req,
        url,
        headers: { ...(req.headers ?? {}), ...authHeader() },
      });
      // Follow redirects (blob storage backends); credentials never follow to another host.
      for (let hops = 0; res.status >= 300 && res.status < 400 && res.status !== 304; hops++) {
        const loc = headerValue(res.headers, 'location');
        discardBody(res.body);
        if (!loc || hops >= 5)
          throw unavailable(`Registry "${ep.url.host}" redirected too often or without a location`);
        const next = new URL(loc, url);
        const sameHost = next.host === ep.url.host;
        if (next.protocol === 'http:' && !sameHost && !this.isInsecure(next.host)) {
          throw unavailable(`Registry "${ep.url.host}" redirected to plain http at "${next.host}"`);
        }
        url = next;
        res = await this.#request(ep, {
          ...req,
          url,
          headers: { ...(req.headers ?? {}), ...(sameHost ? authHeader() : {}) },
        });
      }
      if (res.status !== 401 || attempt > 0) return res;
      const challenges = parseChallenges(headerValue(res.headers, 'www-authenticate') ?? '');
      discardBody(res.body);
      const bearer = challenges.find((c) => c.scheme === 'bearer');
      const basic = challenges.find((c) => c.scheme === 'basic');
      if (bearer) {
        await this.#fetchToken(ep, bearer, scope, creds, tokenKey, req.signal);
      } else if (basic && creds?.username !== undefined) {
        this.#basicHosts.add(ep.url.host);
      } else {
        return res; // no way to answer: the caller reports 401
      }
      url = new URL(req.path, ep.url);
    }
  }

  async #request(
    ep: Endpoint,
    req: {
      method: 'GET' | 'HEAD' | 'POST' | 'PUT';
      url: URL;
      headers: Record<string, string>;
      body?: Buffer;
      signal?: AbortSignal | undefined;
    },
  ): Promise<HttpResponse> {
    const sameHost = req.url.host === ep.url.host;
    if (sameHost && ep.insecure && req.url.protocol === 'https:' && this.#plainHttpHosts.has(ep.url.host)) {
      req = { ...req, url: new URL(req.url.href.replace(/^https:/, 'http:')) };
    }
    const send = (url: URL): Promise<HttpResponse> =>
      httpRequest({
        method: req.method,
        url,
        headers: req.headers,
        ...(req.body ? { body: req.body } : {}),
        signal: req.signal,
        idleTimeoutMs: this.#idleTimeoutMs,
        insecureTls: ep.insecure || this.isInsecure(url.host),
      });
    try {
      return await send(req.url);
    } catch (err) {
      // An insecure registry may speak plain http only: retry once without TLS, as Docker does.
      if (
        req.url.protocol === 'https:' &&
        isUnavailable(err) &&
        (sameHost ? ep.insecure : this.isInsecure(req.url.host))
      ) {
        const plain = new URL(req.url.href.replace(/^https:/, 'http:'));
        const res = await send(plain);
        this.#plainHttpHosts.add(req.url.host);
        if (sameHost) ep.url.protocol = 'http:';
        return res;
      }
      throw err;
    }
  }

  async #fetchToken(
    ep: Endpoint,
    challenge: Challenge,
    scope: string,
    creds: RegistryAuth | undefined,
    tokenKey: string,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const realmStr = challenge.params['realm'];
    if (!realmStr)
      throw unauthorized(`Registry "${ep.url.host}" asked for a bearer token but named no realm`);
    let realm: URL;
    try {
      realm = new URL(realmStr);
    } catch {
      throw unauthorized(
        `Registry "${ep.url.host}" named an invalid token realm "${realmStr.slice(0, 200)}"`,
      );
    }
    if (
      realm.protocol !== 'https:' &&
      !(realm.protocol === 'http:' && (this.isInsecure(realm.host) || ep.insecure))
    ) {
      throw unauthorized(
        `Refusing the token realm "${realm.origin}" of registry "${ep.url.host}": it is not https`,
      );
    }
    const service = challenge.params['service'];
    const scopes = [scope, ...(challenge.params['scope'] ? [challenge.params['scope']] : [])].filter(
      (s, i, a) => s !== '' && a.indexOf(s) === i,
    );
    let res: HttpResponse;
    if (creds?.identityToken) {
      // OAuth2 refresh-token grant (docker login with an identity token).
      const form = new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: creds.identityToken,
        client_id: 'h8s',
        ...(service ? { service } : {}),
        scope: scopes.join(' '),
      });
      res = await httpRequest({
        method: 'POST',
        url: realm,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: Buffer.from(form.toString()),
        signal,
        insecureTls: this.isInsecure(realm.host),
      });
    } else {
      const u = new URL(realm);
      if (service) u.searchParams.set('service', service);
      for (const s of scopes) u.searchParams.append('scope', s);
      const headers: Record<string, string> = {};
      if (creds?.username !== undefined) {
        u.searchParams.set('account', creds.username);
        headers['authorization'] =
          'Basic ' + Buffer.from(`${creds.username}:${creds.password ?? ''}`).toString('base64');
      }
      res = await httpRequest({
        method: 'GET',
        url: u,
        headers,
        signal,
        insecureTls: this.isInsecure(u.host),
      });
    }
    const body = await readBodyLimited(
      res.body,
      1024 * 1024,
      'token response',
      headerValue(res.headers, 'content-length'),
    );
    if (res.status === 401 || res.status === 403) {
      throw unauthorized(
        creds?.username !== undefined
          ? `Registry "${ep.authHost}" rejected the credentials of user "${creds.username}"`
          : `Registry "${ep.authHost}" requires authentication: run "hyperctl login ${ep.authHost}"`,
      );
    }
    if (res.status !== 200) throw unavailable(`Token server "${realm.host}" answered HTTP ${res.status}`);
    const parsed = parseWith(
      TokenResponseSchema,
      parseJson(body.toString('utf8'), 'token response'),
      'token response',
    );
    const token = parsed.token ?? parsed.access_token;
    if (!token) throw unauthorized(`Token server "${realm.host}" returned no token`);
    const ttlS = Math.max(60, parsed.expires_in ?? 60);
    if (this.#tokens.size > 1000) this.#tokens.clear();
    this.#tokens.set(tokenKey, {
      token,
      expiresAtMs: this.#clock.now() + (ttlS - 10) * 1000,
    });
  }

  /** Turns a non-success answer into an H8sError with the registry's own message. */
  async #statusError(res: HttpResponse, what: string, ep: Endpoint, creds: boolean): Promise<H8sError> {
    let detail = '';
    try {
      const body = await readBodyLimited(res.body, maxErrorBodyBytes, 'error body');
      const j: unknown = JSON.parse(body.toString('utf8'));
      const errors = isRecord(j) ? j['errors'] : undefined;
      const e: unknown = Array.isArray(errors) ? errors[0] : undefined;
      if (isRecord(e) && typeof e['message'] === 'string')
        detail = `: ${typeof e['code'] === 'string' ? e['code'] + ' ' : ''}${e['message'].slice(0, 300)}`;
    } catch {
      // not JSON, or too large: the status says enough
    }
    const host = ep.url.host;
    switch (res.status) {
      case 401:
        return unauthorized(
          creds
            ? `Cannot ${what}: registry "${host}" rejected the credentials${detail}`
            : `Cannot ${what}: registry "${host}" requires authentication; run "hyperctl login ${ep.authHost}"${detail}`,
        );
      case 403:
        return forbidden(`Cannot ${what}: registry "${host}" denied access${detail}`);
      case 404:
        return notFound(`Cannot ${what}: not found in registry "${host}"${detail}`);
      case 429:
        return tooManyRequests(`Cannot ${what}: registry "${host}" is rate limiting${detail}`);
      default:
        if (res.status >= 500)
          return unavailable(`Cannot ${what}: registry "${host}" answered HTTP ${res.status}${detail}`);
        return invalid(`Cannot ${what}: registry "${host}" answered HTTP ${res.status}${detail}`);
    }
  }

  /** Tries each endpoint (mirrors first) and returns the first success; the last error otherwise. */
  async #withEndpoints<T>(
    registry: string,
    fn: (ep: Endpoint) => Promise<T>,
    preferred?: string,
  ): Promise<T> {
    let eps = this.#pullEndpoints(registry);
    if (preferred)
      eps = [...eps.filter((e) => e.url.host === preferred), ...eps.filter((e) => e.url.host !== preferred)];
    let lastErr: unknown;
    for (const ep of eps) {
      try {
        return await fn(ep);
      } catch (err) {
        if (
          !ep.isMirror ||
          err instanceof BlobProgressError ||
          (err instanceof Error && err.name === 'AbortError')
        )
          throw err;
        this.#log.warn('Registry mirror failed, trying the next endpoint', {
          registry,
          mirror: ep.url.host,
          error: err,
        });
        lastErr = err;
      }
    }
    throw lastErr;
  }

  /** GETs a manifest or index by tag or digest, verified against the digest when one is known. */
  async #getManifestBytes(
    ep: Endpoint,
    ref: ImageReference,
    reference: string,
    auth: RegistryAuth | undefined,
    signal?: AbortSignal,
  ): Promise<{ bytes: Buffer; digest: string; mediaType: string }> {
    const what = `pull "${describeRef(ref)}"`;
    const res = await this.#send(ep, `repository:${ref.repository}:pull`, auth, {
      method: 'GET',
      path: `/v2/${ref.repository}/manifests/${reference}`,
      headers: { accept: manifestAccept },
      signal,
    });
    if (res.status !== 200)
      throw await this.#statusError(res, what, ep, (await this.#auth(ep, auth)) !== undefined);
    const bytes = await readBodyLimited(
      res.body,
      this.#maxManifestBytes,
      `manifest of "${describeRef(ref)}"`,
      headerValue(res.headers, 'content-length'),
    );
    const digest = sha256Digest(bytes);
    if (reference.startsWith('sha256:') && digest !== reference) {
      throw invalid(
        `Cannot ${what}: the registry sent a manifest with digest "${digest}", not the requested "${reference}"`,
      );
    }
    const headerDigest = headerValue(res.headers, 'docker-content-digest');
    if (headerDigest !== undefined && headerDigest.startsWith('sha256:') && headerDigest !== digest) {
      throw invalid(
        `Cannot ${what}: manifest digest "${digest}" does not match the registry's Docker-Content-Digest "${headerDigest}"`,
      );
    }
    const contentType = (headerValue(res.headers, 'content-type') ?? '').split(';')[0]!.trim();
    let mediaType = contentType;
    let parsed: unknown;
    try {
      parsed = JSON.parse(bytes.toString('utf8'));
    } catch (err) {
      throw invalid(`Cannot ${what}: the manifest is not valid JSON`, { cause: err });
    }
    if (!isRecord(parsed)) throw invalid(`Cannot ${what}: the manifest is not a JSON object`);
    const declared = parsed['mediaType'];
    if (typeof declared === 'string' && declared !== '') mediaType = declared;
    else if (!manifestMediaTypes.includes(mediaType) && !indexMediaTypes.includes(mediaType)) {
      if (parsed['schemaVersion'] === 1) mediaType = mediaTypes.dockerSchema1;
      else mediaType = Array.isArray(parsed['manifests']) ? mediaTypes.ociIndex : mediaTypes.ociManifest;
    }
    return { bytes, digest, mediaType };
  }

  /**
   * Resolves `ref` to one image manifest for `platform` (default linux/amd64).
   * @throws NotFound, Unauthorized, Forbidden, Invalid (bad or unsupported manifest), ServiceUnavailable
   */
  async resolve(
    ref: ImageReference,
    options: { platform?: string; auth?: RegistryAuth | undefined; signal?: AbortSignal | undefined } = {},
  ): Promise<ResolvedManifest> {
    const platform = options.platform ?? 'linux/amd64';
    parsePlatform(platform);
    const what = `pull "${describeRef(ref)}"`;
    return this.#withEndpoints(ref.registry, async (ep) => {
      const top = await this.#getManifestBytes(
        ep,
        ref,
        ref.digest ?? ref.tag ?? 'latest',
        options.auth,
        options.signal,
      );
      let chosen = top;
      let index: ResolvedManifest['index'];
      if (indexMediaTypes.includes(top.mediaType)) {
        const idx = parseWith(
          IndexSchema,
          parseJson(top.bytes.toString('utf8'), 'image index'),
          `image index of "${describeRef(ref)}"`,
        );
        const desc = selectPlatform(idx, platform);
        if (!desc) {
          const have = idx.manifests
            .map((m) =>
              m.platform
                ? `${m.platform.os}/${m.platform.architecture}${m.platform.variant ? '/' + m.platform.variant : ''}`
                : '?',
            )
            .join(', ');
          throw notFound(
            `Cannot ${what}: no manifest for platform "${platform}" (the image has: ${have || 'none'})`,
          );
        }
        index = { digest: top.digest, mediaType: top.mediaType, bytes: top.bytes };
        chosen = await this.#getManifestBytes(ep, ref, desc.digest, options.auth, options.signal);
        if (chosen.digest !== desc.digest) throw invalid(`Cannot ${what}: platform manifest digest mismatch`);
        if (indexMediaTypes.includes(chosen.mediaType))
          throw invalid(`Cannot ${what}: nested image indexes are not supported`);
      }
      if (
        chosen.mediaType === mediaTypes.dockerSchema1 ||
        chosen.mediaType === mediaTypes.dockerSchema1Signed
      ) {
        throw invalid(
          `Cannot ${what}: Docker schema 1 manifests are not supported (re-push the image with a current client)`,
        );
      }
      if (!manifestMediaTypes.includes(chosen.mediaType)) {
        throw invalid(`Cannot ${what}: unsupported manifest media type "${chosen.mediaType.slice(0, 200)}"`);
      }
      const manifest = parseWith(
        ManifestSchema,
        parseJson(chosen.bytes.toString('utf8'), 'manifest'),
        `manifest of "${describeRef(ref)}"`,
      );
      return {
        digest: chosen.digest,
        mediaType: chosen.mediaType,
        bytes: chosen.bytes,
        manifest,
        ...(index ? { index } : {}),
        endpoint: ep.url.host,
      };
    });
  }

  /**
   * Downloads blob `desc` into `partialPath`, resuming from what the file already holds
   * (Range request) and retrying interrupted transfers; verifies size and digest.
   * The file is complete and verified when this resolves; the caller renames it into place.
   * @throws Invalid when the registry sends different content (the partial file is removed).
   */
  async fetchBlob(
    ref: ImageReference,
    desc: { digest: string; size: number },
    partialPath: string,
    options: {
      auth?: RegistryAuth | undefined;
      signal?: AbortSignal | undefined;
      onProgress?: (p: BlobProgress) => void;
      preferredEndpoint?: string;
      /**
       * Called after bytes were written to `partialPath`, with the number of bytes the file now
       * holds from its start (for unpacking while downloading by reading the file behind the
       * download). Resumes that append keep it valid; when the file has to be rewritten from the
       * start (a server that ignores `Range`, a 416), `onRestart` is called instead and
       * `onFlushed` is not called again for this download.
       */
      onFlushed?: (bytesOnDisk: number) => void;
      onRestart?: () => void;
    } = {},
  ): Promise<void> {
    const what = `pull "${describeRef(ref)}"`;
    let following = options.onFlushed !== undefined;
    const fetchOptions = {
      ...options,
      onFlushed: (bytes: number): void => {
        if (following) options.onFlushed?.(bytes);
      },
      onRewrite: (): void => {
        if (!following) return;
        following = false;
        options.onRestart?.();
      },
    };
    let hash = createHash('sha256');
    let have = 0;
    try {
      const st = await stat(partialPath);
      if (st.size > 0 && st.size <= desc.size) {
        for await (const c of createReadStream(partialPath)) hash.update(c as Buffer);
        have = st.size;
      }
    } catch {
      // nothing to resume
    }
    if (have === 0 || have > desc.size) {
      hash = createHash('sha256');
      have = 0;
    } else {
      fetchOptions.onFlushed(have); // the partial file's bytes are the blob's first bytes
    }
    let lastErr: unknown;
    for (let attempt = 0; attempt < this.#blobAttempts; attempt++) {
      options.signal?.throwIfAborted();
      if (attempt > 0) await this.#clock.sleep(Math.min(2000, 100 * 2 ** attempt), options.signal);
      try {
        const r = await this.#withEndpoints(
          ref.registry,
          (ep) => this.#fetchBlobOnce(ep, ref, desc, partialPath, hash, have, fetchOptions),
          options.preferredEndpoint,
        );
        hash = r.hash;
        have = r.have;
        lastErr = undefined;
        break;
      } catch (err) {
        if (err instanceof BlobProgressError) {
          hash = err.hash;
          have = err.have;
          lastErr = err.cause;
          this.#log.info('Blob download interrupted, resuming', {
            digest: desc.digest,
            haveBytes: have,
            attempt: attempt + 1,
            error: err.cause,
          });
          continue;
        }
        // Connection failures and 5xx before any byte arrived: try again too.
        if (isUnavailable(err) && !options.signal?.aborted) {
          lastErr = err;
          this.#log.info('Blob download failed, retrying', {
            digest: desc.digest,
            attempt: attempt + 1,
            error: err,
          });
          continue;
        }
        throw err;
      }
    }
    if (lastErr !== undefined) {
      const why = lastErr instanceof Error ? lastErr.message : String(lastErr);
      throw unavailable(
        `Cannot ${what}: download of blob "${desc.digest}" failed ${this.#blobAttempts} times: ${why}`,
        {
          cause: lastErr,
        },
      );
    }
    const got = 'sha256:' + hash.digest('hex');
    if (have !== desc.size || got !== desc.digest) {
      fetchOptions.onRewrite();
      await truncateFile(partialPath);
      throw invalid(
        `Cannot ${what}: blob "${desc.digest}" failed verification (got ${have} bytes with digest "${got}", want ${desc.size} bytes)`,
      );
    }
  }

  async #fetchBlobOnce(
    ep: Endpoint,
    ref: ImageReference,
    desc: { digest: string; size: number },
    partialPath: string,
    hash: Hash,
    have: number,
    options: {
      auth?: RegistryAuth | undefined;
      signal?: AbortSignal | undefined;
      onProgress?: (p: BlobProgress) => void;
      /** Bytes now in the partial file (from its start). */
      onFlushed?: (bytesOnDisk: number) => void;
      /** The partial file is about to be rewritten from its start. */
      onRewrite?: () => void;
    },
  ): Promise<{ hash: Hash; have: number }> {
    const what = `pull "${describeRef(ref)}"`;
    if (have === desc.size) return { hash, have };
    const headers: Record<string, string> = {};
    if (have > 0) headers['range'] = `bytes=${have}-`;
    const res = await this.#send(ep, `repository:${ref.repository}:pull`, options.auth, {
      method: 'GET',
      path: `/v2/${ref.repository}/blobs/${desc.digest}`,
      headers,
      signal: options.signal,
    });
    if (res.status === 200 && have > 0) {
      // The server ignored the range: start over (a consumer reading the file is stopped).
      options.onRewrite?.();
      hash = createHash('sha256');
      have = 0;
    } else if (res.status === 416 && have > 0) {
      options.onRewrite?.();
      discardBody(res.body);
      hash = createHash('sha256');
      await truncateFile(partialPath);
      throw new BlobProgressError(hash, 0, unavailable('Range not satisfiable'));
    } else if (res.status !== 200 && res.status !== 206) {
      throw await this.#statusError(res, what, ep, (await this.#auth(ep, options.auth)) !== undefined);
    }
    const len = headerValue(res.headers, 'content-length');
    if (len !== undefined && have + Number(len) > desc.size) {
      discardBody(res.body);
      throw invalid(
        `Cannot ${what}: blob "${desc.digest}" is ${have + Number(len)} bytes, but its descriptor says ${desc.size}`,
      );
    }
    const fh = await open(partialPath, have === 0 ? 'w' : 'a');
    let lastReport = 0;
    // Chunks are written in batches of about 1 MiB: one thread-pool round trip per batch
    // instead of per 64 KiB socket read. `have` counts bytes received; the batch is flushed
    // before any resumable error so the file always holds exactly `have` bytes.
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let lastFlush = this.#clock.monotonicMs();
    let onDisk = have;
    const flush = async (): Promise<void> => {
      if (pendingBytes === 0) return;
      let bufs = pending;
      const n = pendingBytes;
      pending = [];
      pendingBytes = 0;
      // writev: no copy into one buffer; loop on short writes
      while (bufs.length > 0) {
        let { bytesWritten } = await fh.writev(bufs);
        while (bufs.length > 0 && bytesWritten >= bufs[0]!.length) bytesWritten -= bufs.shift()!.length;
        if (bytesWritten > 0) bufs = [bufs[0]!.subarray(bytesWritten), ...bufs.slice(1)];
      }
      onDisk += n;
      options.onFlushed?.(onDisk);
    };
    try {
      try {
        for await (const chunk of res.body) {
          const c = chunk as Buffer;
          if (have + c.length > desc.size) {
            res.body.destroy();
            throw invalid(
              `Cannot ${what}: blob "${desc.digest}" is larger than its descriptor's ${desc.size} bytes`,
            );
          }
          hash.update(c);
          have += c.length;
          pending.push(c);
          pendingBytes += c.length;
          // flush at 1 MiB, or every 250 ms so a slow transfer still leaves resumable bytes on disk
          if (pendingBytes >= 1024 * 1024 || this.#clock.monotonicMs() - lastFlush > 250) {
            lastFlush = this.#clock.monotonicMs();
            await flush();
          }
          const now = this.#clock.monotonicMs();
          if (options.onProgress && (now - lastReport > 100 || have === desc.size)) {
            lastReport = now;
            options.onProgress({ currentBytes: have, totalBytes: desc.size });
          }
        }
        await flush();
      } catch (err) {
        if (err instanceof H8sError && err.code === 'Invalid') throw err;
        options.signal?.throwIfAborted();
        if (isEnospc(err)) throw err;
        await flush();
        throw new BlobProgressError(hash, have, err);
      }
      if (have < desc.size)
        throw new BlobProgressError(
          hash,
          have,
          unavailable(`Connection closed after ${have} of ${desc.size} bytes`),
        );
    } finally {
      await fh.close();
    }
    return { hash, have };
  }

  /** A small blob (image config) in memory, verified, at most `maxBytes`. */
  async fetchSmallBlob(
    ref: ImageReference,
    desc: { digest: string; size: number },
    maxBytes: number,
    options: {
      auth?: RegistryAuth | undefined;
      signal?: AbortSignal | undefined;
      preferredEndpoint?: string;
    } = {},
  ): Promise<Buffer> {
    const what = `pull "${describeRef(ref)}"`;
    if (desc.size > maxBytes)
      throw invalid(
        `Cannot ${what}: blob "${desc.digest}" of ${desc.size} bytes is larger than the limit of ${maxBytes}`,
      );
    return this.#withEndpoints(
      ref.registry,
      async (ep) => {
        const res = await this.#send(ep, `repository:${ref.repository}:pull`, options.auth, {
          method: 'GET',
          path: `/v2/${ref.repository}/blobs/${desc.digest}`,
          signal: options.signal,
        });
        if (res.status !== 200)
          throw await this.#statusError(res, what, ep, (await this.#auth(ep, options.auth)) !== undefined);
        const bytes = await readBodyLimited(
          res.body,
          Math.min(maxBytes, desc.size),
          `blob "${desc.digest}"`,
          headerValue(res.headers, 'content-length'),
        );
        if (bytes.length !== desc.size || sha256Digest(bytes) !== desc.digest) {
          throw invalid(
            `Cannot ${what}: blob "${desc.digest}" failed verification (got ${bytes.length} bytes with digest "${sha256Digest(bytes)}")`,
          );
        }
        return bytes;
      },
      options.preferredEndpoint,
    );
  }

  // ------------------------------------------------------------------ push

  /** Uploads a blob (monolithic upload) unless the registry has it already. */
  async pushBlob(
    ref: ImageReference,
    digest: string,
    data: Buffer,
    options: { auth?: RegistryAuth; signal?: AbortSignal } = {},
  ): Promise<void> {
    const ep = this.#endpoint(ref.registry, ref.registry, false);
    const scope = `repository:${ref.repository}:pull,push`;
    const what = `push "${describeRef(ref)}"`;
    const head = await this.#send(ep, scope, options.auth, {
      method: 'HEAD',
      path: `/v2/${ref.repository}/blobs/${digest}`,
      signal: options.signal,
    });
    discardBody(head.body);
    if (head.status === 200) return;
    const start = await this.#send(ep, scope, options.auth, {
      method: 'POST',
      path: `/v2/${ref.repository}/blobs/uploads/`,
      signal: options.signal,
    });
    if (start.status !== 202) throw await this.#statusError(start, what, ep, options.auth !== undefined);
    discardBody(start.body);
    const loc = headerValue(start.headers, 'location');
    if (!loc) throw unavailable(`Cannot ${what}: the registry gave no upload location`);
    const up = new URL(loc, ep.url);
    up.searchParams.set('digest', digest);
    const put = await this.#send(ep, scope, options.auth, {
      method: 'PUT',
      path: up.pathname + up.search,
      headers: { 'content-type': 'application/octet-stream' },
      body: data,
      signal: options.signal,
    });
    if (put.status !== 201) throw await this.#statusError(put, what, ep, options.auth !== undefined);
    discardBody(put.body);
  }

  /** PUTs a manifest or index under `reference` (a tag or its digest). */
  async pushManifest(
    ref: ImageReference,
    reference: string,
    mediaType: string,
    bytes: Buffer,
    options: { auth?: RegistryAuth; signal?: AbortSignal } = {},
  ): Promise<string> {
    const ep = this.#endpoint(ref.registry, ref.registry, false);
    const res = await this.#send(ep, `repository:${ref.repository}:pull,push`, options.auth, {
      method: 'PUT',
      path: `/v2/${ref.repository}/manifests/${reference}`,
      headers: { 'content-type': mediaType },
      body: bytes,
      signal: options.signal,
    });
    if (res.status !== 201)
      throw await this.#statusError(res, `push "${describeRef(ref)}"`, ep, options.auth !== undefined);
    discardBody(res.body);
    return sha256Digest(bytes);
  }

  /**
   * Checks credentials against a registry (what `hyperctl login` does): GET /v2/ and answer
   * its challenge. @throws Unauthorized when they are rejected
   */
  async checkLogin(registry: string, auth: RegistryAuth, signal?: AbortSignal): Promise<void> {
    const ep = this.#endpoint(registry, registry, false);
    const res = await this.#send(ep, '', auth, { method: 'GET', path: '/v2/', signal });
    if (res.status === 200) {
      discardBody(res.body);
      return;
    }
    throw await this.#statusError(res, `log in to "${registry}"`, ep, true);
  }
}

/** Tokens are cached per host, scope and identity: other credentials must not reuse them. */
function tokenCacheKey(host: string, scope: string, creds: RegistryAuth | undefined): string {
  const who =
    creds === undefined
      ? ''
      : createHash('sha256')
          .update(`${creds.username ?? ''}\0${creds.password ?? ''}\0${creds.identityToken ?? ''}`)
          .digest('hex');
  return `${host}|${scope}|${who}`;
}

class BlobProgressError extends Error {
  constructor(
    readonly hash: Hash,
    readonly have: number,
    cause: unknown,
  ) {
    super('blob transfer interrupted', { cause });
  }
}

function isEnospc(err: unknown): boolean {
  return err instanceof Error && 'code' in err && (err.code === 'ENOSPC' || err.code === 'EDQUOT');
}

/** Drops a partial download that cannot be resumed (bad content or a refused range). */
async function truncateFile(path: string): Promise<void> {
  await rm(path, { force: true });
}
