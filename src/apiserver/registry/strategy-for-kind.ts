/** Which `KindStrategy` a kind gets (most kinds get none). */
import type { KindStrategy } from './kind-strategy.js';
import { namespaceStrategy } from './namespace-strategy.js';
import { podStrategy } from './pod-strategy.js';

const defaultStrategy: KindStrategy = {};

/** The strategy for a kind, keyed by `<group>/<Kind>` (`/Pod` for the core group). */
export function strategyFor(group: string, kind: string): KindStrategy {
  switch (`${group}/${kind}`) {
    case '/Pod':
      return podStrategy;
    case '/Namespace':
      return namespaceStrategy;
    case '/Service':
      return { returnsDeletedObject: true };
    default:
      return defaultStrategy;
  }
}
