/**
 * autoscaling/v1 Scale: the body of the `/scale` subresource, and its construction from a
 * kind's `scale` paths (upstream builds it the same way for every scalable kind).
 */
import type { Static } from '@sinclair/typebox';
import type { KindDefinition, KubeObject } from '../../kind-definition.js';
import {
  labelSelectorFromObject,
  labelSelectorToString,
  type LabelSelector,
} from '../../meta/v1/label-selector.js';
import { ObjectMetaSchema } from '../../meta/v1/object-meta.js';
import { int32, object, str } from '../../schema/fields.js';

export const ScaleSchema = object(
  'io.k8s.api.autoscaling.v1.Scale',
  'Scale represents a scaling request for a resource.',
  {
    apiVersion: str('APIVersion defines the versioned schema of this representation of an object.'),
    kind: str('Kind is a string value representing the REST resource this object represents.'),
    metadata: ObjectMetaSchema,
    spec: object(
      'io.k8s.api.autoscaling.v1.ScaleSpec',
      'ScaleSpec describes the attributes of a scale subresource.',
      {
        replicas: int32('replicas is the desired number of instances for the scaled object.'),
      },
    ),
    status: object(
      'io.k8s.api.autoscaling.v1.ScaleStatus',
      'ScaleStatus represents the current status of a scale subresource.',
      {
        replicas: int32('replicas is the actual number of observed instances of the scaled object.'),
        selector: str(
          'selector is the label query over pods that should match the replicas count, in string form.',
        ),
      },
      { required: ['replicas'] },
    ),
  },
);

export type Scale = Static<typeof ScaleSchema>;

/** Reads a dotted JSON path such as `.spec.replicas`. */
export function readJsonPath(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const part of path.split('.').filter((p) => p !== '')) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/**
 * The Scale for `obj` of a scalable kind: name/namespace/uid/resourceVersion/creationTimestamp
 * from the object, replicas from the kind's paths, the selector in string form.
 * @returns undefined when the kind has no scale subresource.
 */
export function scaleOf(def: KindDefinition, obj: KubeObject): Scale | undefined {
  if (!def.scale) return undefined;
  const spec = readJsonPath(obj, def.scale.specReplicasPath);
  const status = readJsonPath(obj, def.scale.statusReplicasPath);
  let selector = '';
  if (def.scale.labelSelectorPath) {
    const raw = readJsonPath(obj, def.scale.labelSelectorPath);
    if (typeof raw === 'string') selector = raw;
    else if (raw && typeof raw === 'object') {
      try {
        selector = labelSelectorToString(labelSelectorFromObject(raw as LabelSelector));
      } catch {
        selector = '';
      }
    }
  }
  const m = obj.metadata;
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: {
      ...(m.name !== undefined ? { name: m.name } : {}),
      ...(m.namespace !== undefined ? { namespace: m.namespace } : {}),
      ...(m.uid !== undefined ? { uid: m.uid } : {}),
      ...(m.resourceVersion !== undefined ? { resourceVersion: m.resourceVersion } : {}),
      ...(m.creationTimestamp !== undefined ? { creationTimestamp: m.creationTimestamp } : {}),
    },
    spec: { replicas: typeof spec === 'number' ? spec : 0 },
    status: { replicas: typeof status === 'number' ? status : 0, ...(selector ? { selector } : {}) },
  };
}
