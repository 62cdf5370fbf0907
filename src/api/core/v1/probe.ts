/**
 * Probes and lifecycle hooks of a container: the actions they run (exec, HTTP GET, TCP socket,
 * gRPC, sleep), their schemas, upstream's defaults (`SetDefaults_Probe`, `SetDefaults_HTTPGetAction`)
 * and validation (`validateProbe`, `validateHandler`).
 */
import type { Static } from '@sinclair/typebox';
import type { StatusCause } from '../../../lib/index.js';
import { int32, int64, intOrString, list, object, str, stringEnum, stringList } from '../../schema/fields.js';
import {
  checkNonNegative,
  checkSupported,
  forbiddenCause,
  invalidCause,
  requiredCause,
} from '../../validation/field-causes.js';
import { checkPortName } from '../../validation/names.js';

export const ExecActionSchema = object(
  'io.k8s.api.core.v1.ExecAction',
  'ExecAction describes a "run in container" action.',
  {
    command: stringList(
      "Command is the command line to execute inside the container. The command is simply exec'd, it is not run inside a shell.",
      {
        'x-kubernetes-list-type': 'atomic',
      },
    ),
  },
);

export const HTTPGetActionSchema = object(
  'io.k8s.api.core.v1.HTTPGetAction',
  'HTTPGetAction describes an action based on HTTP Get requests.',
  {
    path: str('Path to access on the HTTP server.'),
    port: intOrString(
      'Name or number of the port to access on the container. Number must be in the range 1 to 65535. Name must be an IANA_SVC_NAME.',
    ),
    host: str('Host name to connect to, defaults to the pod IP.'),
    scheme: stringEnum('Scheme to use for connecting to the host. Defaults to HTTP.', ['HTTP', 'HTTPS']),
    httpHeaders: list(
      object(
        'io.k8s.api.core.v1.HTTPHeader',
        'HTTPHeader describes a custom header to be used in HTTP probes',
        {
          name: str('The header field name.'),
          value: str('The header field value'),
        },
        { required: ['name', 'value'] },
      ),
      'Custom headers to set in the request. HTTP allows repeated headers.',
      { listType: 'atomic' },
    ),
  },
  { required: ['port'] },
);

export const TCPSocketActionSchema = object(
  'io.k8s.api.core.v1.TCPSocketAction',
  'TCPSocketAction describes an action based on opening a socket',
  {
    port: intOrString(
      'Number or name of the port to access on the container. Number must be in the range 1 to 65535. Name must be an IANA_SVC_NAME.',
    ),
    host: str('Optional: Host name to connect to, defaults to the pod IP.'),
  },
  { required: ['port'] },
);

export const GRPCActionSchema = object(
  'io.k8s.api.core.v1.GRPCAction',
  'GRPCAction specifies an action involving a GRPC service.',
  {
    port: int32('Port number of the gRPC service. Number must be in the range 1 to 65535.'),
    service: str(
      'Service is the name of the service to place in the gRPC HealthCheckRequest. If this is not specified, the default behavior is defined by gRPC.',
    ),
  },
  { required: ['port'] },
);

export const ProbeSchema = object(
  'io.k8s.api.core.v1.Probe',
  'Probe describes a health check to be performed against a container to determine whether it is alive or ready to receive traffic.',
  {
    exec: ExecActionSchema,
    httpGet: HTTPGetActionSchema,
    tcpSocket: TCPSocketActionSchema,
    grpc: GRPCActionSchema,
    initialDelaySeconds: int32(
      'Number of seconds after the container has started before liveness probes are initiated.',
    ),
    timeoutSeconds: int32(
      'Number of seconds after which the probe times out. Defaults to 1 second. Minimum value is 1.',
    ),
    periodSeconds: int32(
      'How often (in seconds) to perform the probe. Default to 10 seconds. Minimum value is 1.',
    ),
    successThreshold: int32(
      'Minimum consecutive successes for the probe to be considered successful after having failed. Defaults to 1. Must be 1 for liveness and startup. Minimum value is 1.',
    ),
    failureThreshold: int32(
      'Minimum consecutive failures for the probe to be considered failed after having succeeded. Defaults to 3. Minimum value is 1.',
    ),
    terminationGracePeriodSeconds: int64(
      'Optional duration in seconds the pod needs to terminate gracefully upon probe failure.',
    ),
  },
);

export const LifecycleHandlerSchema = object(
  'io.k8s.api.core.v1.LifecycleHandler',
  'LifecycleHandler defines a specific action that should be taken in a lifecycle hook. One and only one of the fields, except TCPSocket must be specified.',
  {
    exec: ExecActionSchema,
    httpGet: HTTPGetActionSchema,
    tcpSocket: TCPSocketActionSchema,
    sleep: object(
      'io.k8s.api.core.v1.SleepAction',
      'SleepAction describes a "sleep" action.',
      {
        seconds: int64('Seconds is the number of seconds to sleep.'),
      },
      { required: ['seconds'] },
    ),
  },
);

export const LifecycleSchema = object(
  'io.k8s.api.core.v1.Lifecycle',
  'Lifecycle describes actions that the management system should take in response to container lifecycle events.',
  {
    postStart: LifecycleHandlerSchema,
    preStop: LifecycleHandlerSchema,
    stopSignal: str('StopSignal defines which signal will be sent to a container when it is being stopped.'),
  },
);

export type Probe = Static<typeof ProbeSchema>;
export type LifecycleHandler = Static<typeof LifecycleHandlerSchema>;

// ---------------------------------------------------------------------------------------------
// Defaults

/** Upstream probe defaults: timings and the HTTP GET path and scheme. */
export function applyProbeDefaults(probe: Probe | undefined): void {
  if (!probe) return;
  probe.timeoutSeconds ??= 1;
  probe.periodSeconds ??= 10;
  probe.successThreshold ??= 1;
  probe.failureThreshold ??= 3;
  if (probe.httpGet) {
    probe.httpGet.path ??= '/';
    probe.httpGet.scheme ??= 'HTTP';
  }
  if (probe.grpc) probe.grpc.service ??= '';
}

/** Upstream lifecycle-handler defaults: the HTTP GET path and scheme. */
export function applyHandlerDefaults(h: LifecycleHandler | undefined): void {
  if (h?.httpGet) {
    h.httpGet.path ??= '/';
    h.httpGet.scheme ??= 'HTTP';
  }
}

// ---------------------------------------------------------------------------------------------
// Validation

function validatePortRef(causes: StatusCause[], port: number | string | undefined, path: string): void {
  if (port === undefined) {
    causes.push(requiredCause(path));
    return;
  }
  if (typeof port === 'number') {
    if (!Number.isInteger(port) || port < 1 || port > 65535)
      causes.push(invalidCause(path, port, 'must be between 1 and 65535, inclusive'));
  } else {
    for (const msg of checkPortName(port)) causes.push(invalidCause(path, port, msg));
  }
}

/** One and only one action (upstream `validateHandler`). */
export function validateHandler(causes: StatusCause[], h: LifecycleHandler | Probe, path: string): void {
  const kinds: string[] = [];
  if (h.exec) {
    kinds.push('exec');
    if (!h.exec.command || h.exec.command.length === 0) causes.push(requiredCause(`${path}.exec.command`));
  }
  if (h.httpGet) {
    kinds.push('httpGet');
    validatePortRef(causes, h.httpGet.port, `${path}.httpGet.port`);
    checkSupported(causes, `${path}.httpGet.scheme`, h.httpGet.scheme, ['HTTP', 'HTTPS']);
    (h.httpGet.httpHeaders ?? []).forEach((hd, i) => {
      if (!hd.name || !/^[-A-Za-z0-9!#$%&'*+.^_`|~]+$/.test(hd.name)) {
        causes.push(
          invalidCause(
            `${path}.httpGet.httpHeaders[${i}].name`,
            hd.name ?? '',
            "a valid HTTP header must consist of alphanumeric characters or '-'",
          ),
        );
      }
    });
  }
  if (h.tcpSocket) {
    kinds.push('tcpSocket');
    validatePortRef(causes, h.tcpSocket.port, `${path}.tcpSocket.port`);
  }
  if ('grpc' in h && h.grpc) {
    kinds.push('grpc');
    validatePortRef(causes, h.grpc.port, `${path}.grpc.port`);
  }
  if ('sleep' in h && h.sleep) {
    kinds.push('sleep');
    if (h.sleep.seconds === undefined || h.sleep.seconds < 0)
      causes.push(invalidCause(`${path}.sleep.seconds`, h.sleep.seconds ?? 0, 'must be non-negative'));
  }
  if (kinds.length === 0) causes.push(requiredCause(path, 'must specify a handler type'));
  else if (kinds.length > 1)
    causes.push(forbiddenCause(`${path}.${kinds[1]}`, 'may not specify more than 1 handler type'));
}

/** Upstream `validateProbe`; `mustSucceedOnce` for liveness and startup probes. */
export function validateProbe(
  causes: StatusCause[],
  probe: Probe | undefined,
  path: string,
  mustSucceedOnce: boolean,
): void {
  if (!probe) return;
  validateHandler(causes, probe, path);
  checkNonNegative(causes, `${path}.initialDelaySeconds`, probe.initialDelaySeconds);
  for (const f of ['timeoutSeconds', 'periodSeconds', 'successThreshold', 'failureThreshold'] as const) {
    const v = probe[f];
    if (v !== undefined && v < 1)
      causes.push(invalidCause(`${path}.${f}`, v, 'must be greater than or equal to 1'));
  }
  if (mustSucceedOnce && probe.successThreshold !== undefined && probe.successThreshold !== 1) {
    causes.push(invalidCause(`${path}.successThreshold`, probe.successThreshold, 'must be 1'));
  }
  if (probe.terminationGracePeriodSeconds !== undefined && probe.terminationGracePeriodSeconds <= 0) {
    causes.push(
      invalidCause(
        `${path}.terminationGracePeriodSeconds`,
        probe.terminationGracePeriodSeconds,
        'must be greater than 0',
      ),
    );
  }
}
