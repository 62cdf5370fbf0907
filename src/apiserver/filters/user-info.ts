/**
 * Who makes a request (upstream `user.Info`): what authentication finds and what authorization
 * and admission decide on.
 */

export interface UserInfo {
  readonly name: string;
  readonly groups: readonly string[];
  /** A stable id across name changes (a Keystone user id), when the authenticator has one. */
  readonly uid?: string;
  /** What else the authenticator knows (Keystone: the project the token is scoped to). */
  readonly extra?: Readonly<Record<string, readonly string[]>>;
}

/** A request without a credential (public paths only). */
export const anonymousUser: UserInfo = {
  name: 'system:anonymous',
  groups: ['system:unauthenticated'],
};

/** The server itself, for the writes it makes on its own (bootstrap namespaces). */
export const apiserverUser: UserInfo = {
  name: 'system:apiserver',
  groups: ['system:masters', 'system:authenticated'],
};
