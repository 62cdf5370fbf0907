/**
 * The owner/dependent graph of the garbage collector (upstream's GraphBuilder), keyed by uid.
 *
 * It is fed by informer events (`observe`, `observeDeleted`) and by deletions the collector
 * has verified with a live read (`observeVerifiedAbsent`), and it only decides *what to look
 * at*: it enqueues uids for the attempt-to-delete and attempt-to-orphan workers, which read
 * the live objects before acting. A wrong or stale graph can therefore delay collection but
 * never make it delete an object whose owner exists.
 *
 * Owners referenced but not (yet) observed are "virtual" nodes; they are queued so a worker
 * checks whether they exist. An ownerReference names no namespace: a namespaced owner must be
 * in the dependent's namespace, and a cluster-scoped dependent may only have cluster-scoped
 * owners (as upstream).
 */
import type { KubeObject, OwnerReference } from '../../api/index.js';
import type { Logger } from '../../lib/index.js';

export const foregroundDeletionFinalizer = 'foregroundDeletion';
export const orphanFinalizer = 'orphan';

/** Where an object lives and who it is. `namespace` is '' for cluster-scoped objects. */
export interface ObjectIdentity {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
}

export class GraphNode {
  identity: ObjectIdentity;
  owners: readonly OwnerReference[];
  readonly dependents = new Set<GraphNode>();
  /** Known only as someone's owner; not observed through an informer. */
  isVirtual: boolean;
  isBeingDeleted: boolean;
  /** Being deleted with the foregroundDeletion finalizer: waits for its dependents. */
  isDeletingDependents: boolean;

  constructor(identity: ObjectIdentity, owners: readonly OwnerReference[], isVirtual: boolean) {
    this.identity = identity;
    this.owners = owners;
    this.isVirtual = isVirtual;
    this.isBeingDeleted = false;
    this.isDeletingDependents = false;
  }

  /** Dependents whose reference to this node has `blockOwnerDeletion: true`. */
  blockingDependents(): GraphNode[] {
    const out: GraphNode[] = [];
    for (const dep of this.dependents) {
      if (dep.owners.some((r) => r.uid === this.identity.uid && r.blockOwnerDeletion === true)) out.push(dep);
    }
    return out;
  }
}

export interface DependencyGraphOptions {
  /** Queue `uid` for attempt-to-delete (rate-limited when asked). */
  readonly enqueueDelete: (uid: string, rateLimited?: boolean) => void;
  /** Queue `uid` for attempt-to-orphan. */
  readonly enqueueOrphan: (uid: string) => void;
  /** A dependent names an owner that exists in another namespace (a Warning event upstream). */
  readonly reportInvalidNamespaceOwnerRef?:
    ((dependent: ObjectIdentity, owner: ObjectIdentity) => void) | undefined;
  readonly log: Logger;
}

function hasFinalizer(obj: KubeObject | undefined, finalizer: string): boolean {
  return obj?.metadata.finalizers?.includes(finalizer) ?? false;
}

function isBeingDeleted(obj: KubeObject | undefined): boolean {
  return obj?.metadata.deletionTimestamp !== undefined && obj.metadata.deletionTimestamp !== null;
}

/** True when `obj` is being deleted with `finalizer` and `old` was not (or is unknown). */
function deletionStartsWith(old: KubeObject | undefined, obj: KubeObject, finalizer: string): boolean {
  if (!isBeingDeleted(obj) || !hasFinalizer(obj, finalizer)) return false;
  return old === undefined || !isBeingDeleted(old) || !hasFinalizer(old, finalizer);
}

export function identityOf(obj: KubeObject): ObjectIdentity {
  return {
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    namespace: obj.metadata.namespace ?? '',
    name: obj.metadata.name ?? '',
    uid: obj.metadata.uid ?? '',
  };
}

function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

/** Whether `ref` points at `owner`'s coordinates (group, kind, name; versions may differ). */
export function referenceMatches(ref: OwnerReference, owner: ObjectIdentity): boolean {
  return (
    ref.uid === owner.uid &&
    ref.name === owner.name &&
    ref.kind === owner.kind &&
    groupOf(ref.apiVersion) === groupOf(owner.apiVersion)
  );
}

function sameIdentity(a: ObjectIdentity, b: ObjectIdentity): boolean {
  return (
    a.uid === b.uid &&
    a.name === b.name &&
    a.kind === b.kind &&
    a.namespace === b.namespace &&
    groupOf(a.apiVersion) === groupOf(b.apiVersion)
  );
}

function sameRef(a: OwnerReference, b: OwnerReference): boolean {
  return (
    a.uid === b.uid &&
    a.apiVersion === b.apiVersion &&
    a.kind === b.kind &&
    a.name === b.name &&
    (a.controller ?? false) === (b.controller ?? false) &&
    (a.blockOwnerDeletion ?? false) === (b.blockOwnerDeletion ?? false)
  );
}

export class DependencyGraph {
  readonly #nodes = new Map<string, GraphNode>();
  readonly #options: DependencyGraphOptions;

  constructor(options: DependencyGraphOptions) {
    this.#options = options;
  }

  get size(): number {
    return this.#nodes.size;
  }

  find(uid: string): GraphNode | undefined {
    return this.#nodes.get(uid);
  }

  /** An add or update from an informer. */
  observe(obj: KubeObject, old?: KubeObject): void {
    const uid = obj.metadata.uid;
    if (!uid) return;
    const identity = identityOf(obj);
    const owners = obj.metadata.ownerReferences ?? [];
    let node = this.#nodes.get(uid);
    if (node?.isVirtual) {
      // First sight of an owner we only knew by reference.
      if (!sameIdentity(node.identity, identity)) {
        // Dependents that named other coordinates (or live in another namespace) may be invalid;
        // a worker re-checks them (a no-op for those whose owner is solid).
        for (const dep of this.#partition(node, identity).nonMatching) {
          if (identity.namespace !== '' && dep.identity.namespace !== identity.namespace) {
            this.#options.reportInvalidNamespaceOwnerRef?.(dep.identity, identity);
          }
          this.#options.enqueueDelete(dep.identity.uid);
        }
        node.identity = identity;
      }
      node.isVirtual = false;
    }
    if (!node) {
      node = new GraphNode(identity, owners, false);
      node.isBeingDeleted = isBeingDeleted(obj);
      node.isDeletingDependents = node.isBeingDeleted && hasFinalizer(obj, foregroundDeletionFinalizer);
      this.#nodes.set(uid, node);
      this.#addDependentToOwners(node, owners);
      this.#processTransitions(old, obj, node);
      return;
    }
    node.identity = identity;
    const { added, removed, changed } = diffReferences(node.owners, owners);
    if (added.length > 0 || removed.length > 0 || changed.length > 0) {
      // Owners waiting for their blocking dependents may be unblocked by this change.
      for (const ref of removed) if (ref.blockOwnerDeletion === true) this.#enqueueIfKnown(ref.uid);
      for (const [before, after] of changed) {
        if (before.blockOwnerDeletion === true && after.blockOwnerDeletion !== true)
          this.#enqueueIfKnown(after.uid);
      }
      node.owners = owners;
      this.#addDependentToOwners(node, added);
      this.#removeDependentFromOwners(node, removed);
    }
    if (isBeingDeleted(obj)) node.isBeingDeleted = true;
    this.#processTransitions(old, obj, node);
  }

  /** A deletion observed by an informer. */
  observeDeleted(obj: KubeObject): void {
    const uid = obj.metadata.uid;
    if (!uid) return;
    const node = this.#nodes.get(uid);
    if (!node) return;
    this.#removeNode(node);
  }

  /**
   * A worker verified with a live read that nothing with `identity` exists (404 or another
   * uid). For a virtual node whose dependents disagree on its coordinates, only the
   * dependents matching `identity` are queued and the node stays, under another identity.
   */
  observeVerifiedAbsent(identity: ObjectIdentity): void {
    const node = this.#nodes.get(identity.uid);
    if (!node) return;
    if (node.isVirtual) {
      const { matching, nonMatching } = this.#partition(node, identity);
      if (nonMatching.length > 0) {
        for (const dep of matching) this.#options.enqueueDelete(dep.identity.uid);
        if (sameIdentity(node.identity, identity)) {
          const alternative = alternateIdentity(nonMatching, identity);
          if (alternative) {
            node.identity = alternative;
            this.#options.enqueueDelete(node.identity.uid, true);
          }
        }
        return;
      }
    } else if (!sameIdentity(node.identity, identity)) {
      // The real node lives elsewhere; only dependents naming the absent coordinates are affected.
      for (const dep of this.#partition(node, identity).matching)
        this.#options.enqueueDelete(dep.identity.uid);
      return;
    }
    this.#removeNode(node);
  }

  #removeNode(node: GraphNode): void {
    this.#nodes.delete(node.identity.uid);
    this.#removeDependentFromOwners(node, node.owners);
    // Its dependents may now be garbage; the workers decide after a live read.
    for (const dep of node.dependents) this.#options.enqueueDelete(dep.identity.uid);
    // An owner in foreground deletion may have been waiting for exactly this dependent.
    for (const ref of node.owners) {
      const owner = this.#nodes.get(ref.uid);
      if (owner?.isDeletingDependents) this.#options.enqueueDelete(owner.identity.uid);
    }
  }

  #enqueueIfKnown(uid: string): void {
    if (this.#nodes.has(uid)) this.#options.enqueueDelete(uid);
  }

  #addDependentToOwners(node: GraphNode, refs: readonly OwnerReference[]): void {
    for (const ref of refs) {
      let owner = this.#nodes.get(ref.uid);
      if (!owner) {
        // Not seen yet (or never existed): a virtual node that a worker will verify.
        owner = new GraphNode(
          {
            apiVersion: ref.apiVersion,
            kind: ref.kind,
            name: ref.name,
            uid: ref.uid,
            namespace: node.identity.namespace,
          },
          [],
          true,
        );
        this.#nodes.set(ref.uid, owner);
        this.#options.log.debug('Added virtual owner', { owner: ref.uid, kind: ref.kind, name: ref.name });
        this.#options.enqueueDelete(ref.uid);
      }
      owner.dependents.add(node);
      if (owner.isVirtual) continue;
      const ownerNamespace = owner.identity.namespace;
      if (ownerNamespace !== '' && ownerNamespace !== node.identity.namespace) {
        // A reference across namespaces resolves to nothing; the dependent is checked (upstream
        // deletes it once all its owners are verified absent) and the mistake reported.
        this.#options.reportInvalidNamespaceOwnerRef?.(node.identity, owner.identity);
        this.#options.enqueueDelete(node.identity.uid);
      } else if (!referenceMatches(ref, owner.identity)) {
        this.#options.enqueueDelete(node.identity.uid);
      }
    }
  }

  #removeDependentFromOwners(node: GraphNode, refs: readonly OwnerReference[]): void {
    for (const ref of refs) {
      const owner = this.#nodes.get(ref.uid);
      if (!owner) continue;
      owner.dependents.delete(node);
      // A virtual owner nobody refers to any more is forgotten (no leak for dangling refs).
      if (owner.isVirtual && owner.dependents.size === 0) this.#nodes.delete(ref.uid);
    }
  }

  #processTransitions(old: KubeObject | undefined, obj: KubeObject, node: GraphNode): void {
    if (deletionStartsWith(old, obj, orphanFinalizer)) {
      this.#options.enqueueOrphan(node.identity.uid);
      return;
    }
    if (deletionStartsWith(old, obj, foregroundDeletionFinalizer)) {
      node.isDeletingDependents = true;
      for (const dep of node.dependents) this.#options.enqueueDelete(dep.identity.uid);
      this.#options.enqueueDelete(node.identity.uid);
    }
  }

  /** Dependents whose reference matches `identity`, and those that name other coordinates. */
  #partition(node: GraphNode, identity: ObjectIdentity): { matching: GraphNode[]; nonMatching: GraphNode[] } {
    const matching: GraphNode[] = [];
    const nonMatching: GraphNode[] = [];
    for (const dep of node.dependents) {
      if (identity.namespace !== '' && dep.identity.namespace !== identity.namespace) {
        nonMatching.push(dep);
        continue;
      }
      let isMatch = false;
      let isMismatch = false;
      for (const ref of dep.owners) {
        if (ref.uid !== identity.uid) continue;
        if (referenceMatches(ref, identity)) isMatch = true;
        else isMismatch = true;
      }
      if (isMatch) matching.push(dep);
      if (isMismatch) nonMatching.push(dep);
    }
    return { matching, nonMatching };
  }
}

function diffReferences(
  before: readonly OwnerReference[],
  after: readonly OwnerReference[],
): { added: OwnerReference[]; removed: OwnerReference[]; changed: [OwnerReference, OwnerReference][] } {
  const old = new Map(before.map((r) => [r.uid, r]));
  const added: OwnerReference[] = [];
  const changed: [OwnerReference, OwnerReference][] = [];
  for (const ref of after) {
    const prev = old.get(ref.uid);
    if (!prev) added.push(ref);
    else {
      if (!sameRef(prev, ref)) changed.push([prev, ref]);
      old.delete(ref.uid);
    }
  }
  return { added, removed: [...old.values()], changed };
}

/** Another identity dependents use for the uid of `absent` (deterministic choice). */
function alternateIdentity(deps: GraphNode[], absent: ObjectIdentity): ObjectIdentity | undefined {
  const candidates: ObjectIdentity[] = [];
  for (const dep of deps) {
    for (const ref of dep.owners) {
      if (ref.uid !== absent.uid) continue;
      const candidate: ObjectIdentity = {
        apiVersion: ref.apiVersion,
        kind: ref.kind,
        name: ref.name,
        uid: ref.uid,
        namespace: dep.identity.namespace,
      };
      if (!sameIdentity(candidate, absent)) candidates.push(candidate);
    }
  }
  const key = (i: ObjectIdentity): string =>
    `${i.kind}\u0000${i.apiVersion}\u0000${i.namespace}\u0000${i.name}`;
  candidates.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  return candidates[0];
}
