/** Object references shared by core kinds (ObjectReference, LocalObjectReference, ...). */
import { object, str } from '../../schema/fields.js';

export const ObjectReferenceSchema = object(
  'io.k8s.api.core.v1.ObjectReference',
  'ObjectReference contains enough information to let you inspect or modify the referred object.',
  {
    kind: str('Kind of the referent.'),
    namespace: str('Namespace of the referent.'),
    name: str('Name of the referent.'),
    uid: str('UID of the referent.'),
    apiVersion: str('API version of the referent.'),
    resourceVersion: str('Specific resourceVersion to which this reference is made, if any.'),
    fieldPath: str(
      'If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2].',
    ),
  },
  { extra: { 'x-kubernetes-map-type': 'atomic' } },
);

export const LocalObjectReferenceSchema = object(
  'io.k8s.api.core.v1.LocalObjectReference',
  'LocalObjectReference contains enough information to let you locate the referenced object inside the same namespace.',
  { name: str('Name of the referent.') },
  { extra: { 'x-kubernetes-map-type': 'atomic' } },
);

export const SecretReferenceSchema = object(
  'io.k8s.api.core.v1.SecretReference',
  'SecretReference represents a Secret Reference. It has enough information to retrieve secret in any namespace',
  {
    name: str('name is unique within a namespace to reference a secret resource.'),
    namespace: str('namespace defines the space within which the secret name must be unique.'),
  },
  { extra: { 'x-kubernetes-map-type': 'atomic' } },
);

export const TypedLocalObjectReferenceSchema = object(
  'io.k8s.api.core.v1.TypedLocalObjectReference',
  'TypedLocalObjectReference contains enough information to let you locate the typed referenced object inside the same namespace.',
  {
    apiGroup: str(
      'APIGroup is the group for the resource being referenced. If APIGroup is not specified, the specified Kind must be in the core API group.',
    ),
    kind: str('Kind is the type of resource being referenced'),
    name: str('Name is the name of resource being referenced'),
  },
  { required: ['kind', 'name'], extra: { 'x-kubernetes-map-type': 'atomic' } },
);

export const TypedObjectReferenceSchema = object(
  'io.k8s.api.core.v1.TypedObjectReference',
  'TypedObjectReference contains enough information to let you locate the typed referenced object',
  {
    apiGroup: str('APIGroup is the group for the resource being referenced.'),
    kind: str('Kind is the type of resource being referenced'),
    name: str('Name is the name of resource being referenced'),
    namespace: str('Namespace is the namespace of resource being referenced'),
  },
  { required: ['kind', 'name'] },
);
