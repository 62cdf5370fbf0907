// The import table of DESIGN.md section 2, checked by a tool (`npm run deps`).
// Each module lists what it may import besides itself; anything else under src/ is a violation.
const allowed = {
  lib: [],
  api: ['lib'],
  storage: ['lib'],
  apiserver: ['storage', 'api', 'lib'],
  identity: ['storage', 'api', 'lib'],
  client: ['api', 'lib'],
  reconcile: ['client', 'api', 'lib'],
  controllers: ['reconcile', 'client', 'api', 'lib'],
  scheduler: ['reconcile', 'client', 'api', 'lib'],
  images: ['lib'],
  network: ['lib'],
  volumes: ['lib'],
  runtime: ['images', 'lib'],
  agent: ['runtime', 'network', 'volumes', 'reconcile', 'client', 'api', 'lib'],
  cli: ['client', 'runtime', 'api', 'lib'],
  cmd: null, // anything
};

const forbidden = [
  {
    name: 'no-circular',
    severity: 'error',
    comment: 'Circular imports make start-up order and testing fragile',
    from: { path: '^src/' },
    to: { circular: true, viaOnly: { pathNot: '\\.test\\.ts$' } },
  },
  {
    name: 'nothing-imports-cmd',
    severity: 'error',
    comment: 'cmd/ is the composition root; nothing imports it (DESIGN.md section 2)',
    from: { path: '^src/(?!cmd/)' },
    to: { path: '^src/cmd/' },
  },
  {
    name: 'no-unresolvable',
    severity: 'error',
    from: {},
    to: { couldNotResolve: true },
  },
];

for (const [mod, mayImport] of Object.entries(allowed)) {
  if (mayImport === null) continue;
  const ok = [mod, ...mayImport].join('|');
  forbidden.push({
    name: `import-rule-${mod}`,
    severity: 'error',
    comment: `src/${mod} may import only: ${mayImport.length ? mayImport.join(', ') : 'Node built-ins and vetted packages'}`,
    from: { path: `^src/${mod}/` },
    to: { path: '^src/', pathNot: `^src/(${ok})/` },
  });
}

// Import through the front door (STYLE.md example 1): from another module, only its index.ts
// or a file directly under a `testing/` folder (conformance suites and fakes).
forbidden.push({
  name: 'front-door-only',
  severity: 'error',
  comment: 'Import another module through its index.ts (or its testing/ folder)',
  from: { path: '^src/([^/]+)/' },
  to: {
    path: '^src/([^/]+)/.+',
    pathNot: ['^src/$1/', '^src/[^/]+/index\\.ts$', '^src/[^/]+/testing/'],
  },
});

// Test code stays out of production: a `testing/` folder (conformance suites, fakes, fixtures)
// may be imported only by tests and by other `testing/` files (STYLE.md, Tests).
forbidden.push({
  name: 'testing-only-from-tests',
  severity: 'error',
  comment: 'Only tests (*.test.ts) and other testing/ files may import a testing/ folder',
  from: { path: '^src/', pathNot: ['\\.test\\.ts$', '/testing/'] },
  to: { path: '/testing/' },
});

module.exports = {
  forbidden,
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
