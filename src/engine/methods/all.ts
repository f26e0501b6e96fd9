// Every method folder, for hosts built by Vite (the page, the worker) and for vitest: the
// glob finds src/engine/methods/*/index.ts, each of which registers itself. Node's CLI
// does the same with a directory listing (src/cli/methods.ts).

import.meta.glob('./*/index.ts', { eager: true });

export { getMethod, listMethods, methodNames } from './registry.ts';
