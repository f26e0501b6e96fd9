// Files a person picked or dropped (a model folder, or its files) as ModelFiles. Paths
// inside the folder are ignored: config.json is config.json wherever it sits.

import { blobSource } from './bytes.ts';
import type { ModelFiles } from './model-files.ts';

export function pickedFiles(files: readonly File[], name = 'picked files'): ModelFiles {
  const byName = new Map<string, File>();
  for (const f of files) byName.set(f.name, f);
  return {
    name,
    has: async (file) => byName.has(file),
    open: async (file) => {
      const f = byName.get(file);
      if (!f) throw new Error(`${name}: no ${file} among ${[...byName.keys()].join(', ')}`);
      return blobSource(f, file);
    },
  };
}
