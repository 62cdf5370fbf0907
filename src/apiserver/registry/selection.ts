/**
 * Label and field selectors compiled into one predicate per request. Every kind supports the
 * field selectors `metadata.name` and `metadata.namespace`; anything else must be listed by
 * the kind (`KindDefinition.fieldSelectors`), otherwise the request is a 400 with upstream's
 * message `field label not supported: <field>`.
 */
import {
  matchesFieldSelector,
  matchesLabelSelector,
  parseFieldSelector,
  parseLabelSelector,
  type KindDefinition,
  type KubeObject,
} from '../../api/index.js';
import { badRequest } from '../../lib/index.js';

export interface Selection {
  /** True when the selection admits every object (no filtering needed). */
  readonly isEverything: boolean;
  matches(obj: Readonly<KubeObject>): boolean;
}

export const everything: Selection = { isEverything: true, matches: () => true };

/** @throws BadRequest for a malformed selector or an unsupported field label. */
export function compileSelection(
  def: KindDefinition,
  labelSelector: string | undefined,
  fieldSelector: string | undefined,
): Selection {
  const labels = parseLabelSelector(labelSelector ?? '');
  const fields = parseFieldSelector(fieldSelector ?? '');
  const getters = new Map<string, (obj: KubeObject) => string>();
  for (const r of fields) {
    if (r.field === 'metadata.name') getters.set(r.field, (o) => o.metadata.name ?? '');
    else if (r.field === 'metadata.namespace') getters.set(r.field, (o) => o.metadata.namespace ?? '');
    else {
      const g = Object.prototype.hasOwnProperty.call(def.fieldSelectors, r.field)
        ? def.fieldSelectors[r.field]
        : undefined;
      if (!g) throw badRequest(`field label not supported: ${r.field}`);
      getters.set(r.field, g);
    }
  }
  const noLabels = labels.requirements.length === 0 && !labels.matchesNothing;
  if (noLabels && fields.length === 0) return everything;
  return {
    isEverything: false,
    matches(obj) {
      if (!noLabels && !matchesLabelSelector(labels, obj.metadata.labels)) return false;
      if (fields.length === 0) return true;
      return matchesFieldSelector(fields, (f) => {
        const g = getters.get(f);
        return g ? g(obj as KubeObject) : '';
      });
    },
  };
}
