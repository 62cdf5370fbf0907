/**
 * Where the runtime daemon listens: `unix:///run/h8s/runtime.sock` by default, and the name of
 * the protocol its streams switch to. Shared by the server and the client (which must stay
 * light: hyperctl loads it on every command).
 */
import { invalid } from '../lib/index.js';

/** Where `h8s runtime` listens and hyperctl connects by default. */
export const defaultRuntimeEndpoint = 'unix:///run/h8s/runtime.sock';

/** The `Upgrade:` protocol of exec, attach, logs and port-forward streams. */
export const streamProtocol = 'h8s-stream.v1';

/** `unix:///run/h8s/runtime.sock` → `/run/h8s/runtime.sock`. @throws Invalid */
export function socketPathOf(endpoint: string): string {
  if (endpoint.startsWith('unix://')) {
    const p = endpoint.slice('unix://'.length);
    if (p.startsWith('/')) return p;
  } else if (endpoint.startsWith('/')) {
    return endpoint;
  }
  throw invalid(`Invalid runtime endpoint "${endpoint}": expected unix:///absolute/path.sock`);
}
