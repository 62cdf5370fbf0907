/** The 403 an admission plugin answers (upstream `admission.NewForbidden`). */
import { forbidden, type H8sError, type StatusCause } from '../../lib/index.js';
import type { AdmissionRequest } from './admission-plugin.js';

/** `pods "web" is forbidden: <why>`, naming the request's resource as upstream does. */
export function admissionForbidden(
  request: AdmissionRequest,
  why: string,
  causes: readonly StatusCause[] = [],
): H8sError {
  const resource = request.group === '' ? request.resource : `${request.resource}.${request.group}`;
  return forbidden(`${resource} "${request.name}" is forbidden: ${why}`, {
    details: { name: request.name, group: request.group, kind: request.resource, causes: [...causes] },
  });
}
