/** Architecture rules: api and workers never import each other, shared imports neither, no cycles. */
module.exports = {
  forbidden: [
    { name: 'no-cycles', severity: 'error', from: {}, to: { circular: true } },
    { name: 'api-not-workers', severity: 'error', from: { path: '^api/' }, to: { path: '^workers/' } },
    { name: 'workers-not-api', severity: 'error', from: { path: '^workers/' }, to: { path: '^api/' } },
    {
      name: 'shared-is-a-leaf',
      severity: 'error',
      from: { path: '^shared/' },
      to: { path: '^(api|workers)/' },
    },
    {
      name: 'migrations-only-shared',
      severity: 'error',
      from: { path: '^migrations/' },
      to: { path: '^(api|workers)/' },
    },
    {
      // The dashboard reaches the platform only over HTTP (through its API module / the SDK).
      name: 'web-app-only-http',
      severity: 'error',
      from: { path: '^web/src/' },
      to: { path: '^(api|workers|shared|migrations)/' },
    },
    {
      name: 'sdk-stands-alone',
      severity: 'error',
      comment: '@rendermill/sdk is published on its own: its source imports nothing of the platform',
      from: { path: '^sdk/src/' },
      to: { path: '^(api|workers|shared|migrations|chaos|load)/' },
    },
    { name: 'not-to-unresolvable', severity: 'error', from: {}, to: { couldNotResolve: true } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // k6 scripts import k6's built-in modules (k6/http, k6/metrics), which only k6 resolves.
    exclude: { path: '^load/k6/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
