/**
 * controllers: the reconcilers that drive the cluster towards what its objects say, one folder
 * per controller (namespace lifecycle, garbage collection by ownerReferences, and later
 * deployment, replicaset, endpoints, node lifecycle, network, volumes).
 *
 * What it is not: controllers never touch the store; they read and write only through the
 * client (STYLE.md tenet 4), so they run the same in `h8s server` or anywhere else.
 *
 * Invariants: every controller is level-triggered (event handlers only enqueue keys; the
 * reconcile reads current state), logs once per failed reconcile at warn and state changes at
 * info, and stops cleanly when its signal aborts. `startControllers` runs them all, optionally
 * only while holding a Lease.
 */
export * from './controller-manager.js';
export {
  createGarbageCollector,
  type GarbageCollector,
  type GarbageCollectorOptions,
} from './garbage-collector/garbage-collector.js';
export {
  createNamespaceController,
  kubernetesFinalizer,
  mergeDeletionConditions,
  namespaceConditionTypes,
  type ContentSweep,
  type Namespace,
  type NamespaceCondition,
  type NamespaceController,
  type NamespaceControllerOptions,
} from './namespace/namespace-controller.js';
export {
  createEndpointsController,
  managedByLabel,
  managedByValue,
  serviceNameLabel,
  type EndpointsControllerOptions,
} from './endpoints/endpoints-controller.js';
export {
  createServiceAccountController,
  type ServiceAccountControllerOptions,
} from './service-account/service-account-controller.js';
export {
  createRootCaPublisher,
  rootCaConfigMapName,
  type RootCaPublisherOptions,
} from './root-ca-publisher/root-ca-publisher.js';
export { createTokenCleaner, type TokenCleanerOptions } from './token-cleaner/token-cleaner.js';
