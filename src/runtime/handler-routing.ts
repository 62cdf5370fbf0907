/**
 * Frakti's routing rule between the runtime handlers, shared by the daemon core and anyone who
 * wants to predict where a pod goes: a sandbox that names no handler goes to `runc` when it asks
 * for privileged mode or host namespaces, else to the default handler; asking `hyper` for host
 * access is Forbidden.
 */
import { forbidden } from '../lib/index.js';
import type { PodSandboxConfig, RuntimeHandlerName } from './runtime-service.js';

/** What a sandbox config asks for that only a Linux-container handler can give. */
export function hostAccessRequests(config: PodSandboxConfig): string[] {
  const s = config.security ?? {};
  const out: string[] = [];
  if (s.privileged) out.push('privileged mode');
  if (s.hostNetwork) out.push('the host network');
  if (s.hostPid) out.push('the host PID namespace');
  if (s.hostIpc) out.push('the host IPC namespace');
  return out;
}

/**
 * Frakti's routing rule. @throws Forbidden when `hyper` is asked for host access.
 */
export function chooseHandler(
  config: PodSandboxConfig,
  requested: RuntimeHandlerName | '' | undefined,
  defaultHandler: RuntimeHandlerName,
): RuntimeHandlerName {
  const host = hostAccessRequests(config);
  if (requested === 'hyper' && host.length > 0) {
    throw forbidden(
      `The hyper runtime handler cannot give pod "${config.metadata.name}" ${host.join(' and ')}: ` +
        'a VM pod has its own kernel and namespaces; use the runc handler for it',
      {
        details: { causes: [{ reason: 'FieldValueForbidden', message: host.join(', '), field: 'security' }] },
      },
    );
  }
  if (requested) return requested;
  return host.length > 0 ? 'runc' : defaultHandler;
}
