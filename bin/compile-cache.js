// Node's on-disk compile cache (`module.enableCompileCache`, Node 22.1 and later) keeps V8's
// code cache of dist/ between runs, so a CLI does not compile its modules on every start. Node
// 20 has no such API; there this does nothing. `NODE_COMPILE_CACHE` (a directory) also turns it
// on and wins, and `NODE_DISABLE_COMPILE_CACHE=1` turns it off; both are Node's own variables.
import module from 'node:module';

export function enableCompileCache() {
  if (typeof module.enableCompileCache === 'function') module.enableCompileCache();
}
