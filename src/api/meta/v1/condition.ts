/** `metav1.Condition`: the standard condition shape of newer APIs (Service status, ...). */
import { int64, object, str, time } from '../../schema/fields.js';

export const ConditionSchema = object(
  'io.k8s.apimachinery.pkg.apis.meta.v1.Condition',
  'Condition contains details for one aspect of the current state of this API Resource.',
  {
    type: str('type of condition in CamelCase or in foo.example.com/CamelCase.'),
    status: str('status of the condition, one of True, False, Unknown.'),
    observedGeneration: int64(
      'observedGeneration represents the .metadata.generation that the condition was set based upon.',
    ),
    lastTransitionTime: time(
      'lastTransitionTime is the last time the condition transitioned from one status to another.',
    ),
    reason: str(
      "reason contains a programmatic identifier indicating the reason for the condition's last transition.",
    ),
    message: str('message is a human readable message indicating details about the transition.'),
  },
  { required: ['type', 'status', 'lastTransitionTime', 'reason', 'message'] },
);
