/**
 * ServiceAllocation: the mutating admission plugin that gives Services their cluster IP and
 * node ports (upstream does this in the service REST storage's create/update/delete hooks;
 * here the admission chain's finish functions play that part). The rules and the ranges are
 * `registry/service-allocation.ts`; this only decides which requests reach it.
 */
import type { ServiceAllocation } from '../registry/service-allocation.js';
import type {
  AdmissionAttributes,
  AdmissionFinish,
  AdmissionRequest,
  MutatingAdmissionPlugin,
} from './admission-plugin.js';

export class ServiceAllocationPlugin implements MutatingAdmissionPlugin {
  readonly name = 'ServiceAllocation';
  readonly readsObject = true;
  readonly #allocation: ServiceAllocation;

  constructor(allocation: ServiceAllocation) {
    this.#allocation = allocation;
  }

  /** Writes of the Service itself (not status): creates, updates and deletes. */
  handles(request: AdmissionRequest): boolean {
    return (
      request.resource === 'services' &&
      request.group === '' &&
      request.subresource === undefined &&
      request.operation !== 'CONNECT'
    );
  }

  /** @throws Invalid, ServiceUnavailable (see `ServiceAllocation.admit`) */
  admit(attributes: AdmissionAttributes): Promise<AdmissionFinish | undefined> {
    return this.#allocation.admit(attributes);
  }
}
