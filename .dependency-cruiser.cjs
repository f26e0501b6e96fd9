// The layers point one way (README "Layout"; DESIGN.md): a module imports only from its own
// layer and the layers before it in LAYERS. `*.ref.ts` (plain-loop references) are for
// tests: product code never imports them. `npm run lint` runs this (depcruise).
const E = '^src/engine/';
const LAYERS = [
  ['config', `${E}config/`],
  ['rng', `${E}rng/`],
  // Storage formats: files and their number formats (safetensors' f16, GGUF's blocks and the
  // engine's q8/q4/nf4 blocks read each other), one layer.
  ['io+quant', `${E}(io|quant)/`],
  ['data', `${E}data/`],
  ['gpu', `${E}gpu/`],
  ['kernels', `${E}kernels/`],
  ['model', `${E}model/`],
  ['optim', `${E}optim/`],
  ['methods', `${E}methods/`],
  ['train', `${E}train/`],
  ['export', `${E}export/`],
  ['runs', `${E}[^/]+\\.ts$`],
  ['worker', '^workers/'],
  ['cli', '^src/cli/'],
  ['ui', '^src/(ui/|main\\.tsx$)'],
];

const layerRules = LAYERS.slice(0, -1).map(([name, path], i) => ({
  name: `layer-${name}`,
  comment: `${name} imports only from itself and the layers below it (${LAYERS.slice(0, i).map(([n]) => n).join(', ') || 'none'})`,
  severity: 'error',
  // References (*.ref.ts) are test code: they may compose across layers.
  from: { path, pathNot: '\\.ref\\.ts$' },
  to: { path: LAYERS.slice(i + 1).map(([, p]) => p) },
}));

module.exports = {
  forbidden: [
    ...layerRules,
    // Hosts are peers: the CLI and the worker never import the page, nor each other.
    { name: 'hosts-apart', severity: 'error', from: { path: '^(src/cli/|workers/)' }, to: { path: '^(src/ui/|workers/|src/cli/)', pathNot: '$1' } },
    {
      name: 'ref-only-from-tests',
      comment: 'plain-loop references (*.ref.ts) are imported by tests, benchmarks and other references only',
      severity: 'error',
      from: { path: '^(src|workers|scripts)/', pathNot: '\\.ref\\.ts$' },
      to: { path: '\\.ref\\.ts$' },
    },
    {
      name: 'no-circular',
      // Runtime cycles (type-only ones, like the store's slices naming the Store, are fine).
      // Two known cycles are left to the branches that edit those files: kernels/quant.ts
      // re-exports qmatmul.ts (which imports quant.ts), and cli/export.ts <-> cli/train.ts
      // (readDataFile / applyAdapterDir).
      severity: 'error',
      from: { path: '^(src|workers)/', pathNot: '^src/engine/kernels/(quant|qmatmul)\\.ts$|^src/cli/(export|train)\\.ts$' },
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist|test-results)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.tsx', '.js'] },
  },
};
