/**
 * apiserver: the Kubernetes-compatible API server (DESIGN.md section 4), layered like upstream:
 * filters (authentication, request log, error recovery) → endpoints (routing, discovery,
 * OpenAPI, tables, watch, patch types, content negotiation) → registry (one generic registry
 * per kind, driven by the api module's `KindDefinition`s) → storage (`KeyValueStore`).
 *
 * What it is not: the kinds themselves (api), the store (storage), controllers (they talk to it
 * through the client), or the composition of the `h8s server` process (cmd).
 *
 * Invariants: every object's resourceVersion is the store revision of its last write; every
 * error reaches the client as a Status and never takes the process down; tokens and Secret
 * data never reach a log line.
 */
export {
  ApiServer,
  type ApiServerConfig,
  type ApiServerDeps,
  type VersionInfo,
} from './server/api-server.js';
export {
  ensureServingCertificates,
  servingNames,
  type CertificateNames,
  type ServingCertificates,
} from './server/certificates.js';
export {
  ensureAdminCredentials,
  renderKubeconfig,
  serverUrl,
  tokenFromKubeconfig,
  type AdminCredentials,
} from './server/admin-credentials.js';
export {
  createTokenAuthenticator,
  sha256,
  type Authenticator,
  type TokenEntry,
} from './filters/authentication.js';
export {
  ensureKubeletClientCredentials,
  ensureNodeStreamingCredentials,
  kubeletClientCommonName,
  type KubeletClientCredentials,
} from './server/streaming-credentials.js';
export { anonymousUser, apiserverUser, type UserInfo } from './filters/user-info.js';
export {
  createClientCertificateAuthenticator,
  unionAuthenticator,
} from './filters/client-certificate-authentication.js';
export { issueNodeCertificates, type NodeCertificateAuthority } from './server/node-certificates.js';
export {
  caCertsPath,
  nodeCredentialsPath,
  type NodeCredentialsConfig,
} from './server/node-credentials-handler.js';
export {
  bootstrapTokenExpiresMs,
  bootstrapTokenNamespace,
  bootstrapTokenSecretType,
} from './server/bootstrap-tokens.js';
export { defaultMaxRequestBodyBytes } from './endpoints/request-body.js';
export {
  defaultNodePortRange,
  defaultServiceCidr,
  kubernetesServiceIp,
  parsePortRange,
  parseServiceCidr,
  type PortRange,
  type ServiceCidr,
} from './registry/service-ranges.js';
export { ServiceAllocation, type RepairReport } from './registry/service-allocation.js';
export {
  ensureServiceAccountKey,
  generateServiceAccountKeyPem,
  signingKeyFromPem,
  type ServiceAccountSigningKey,
} from './serviceaccount/signing-key.js';
export { defaultServiceAccountIssuer } from './serviceaccount/service-account-tokens.js';
export type { ServiceAccountConfig } from './serviceaccount/service-account-api.js';
