// Files a person picked or dropped (a model folder, or its files) as ModelFiles. Paths
// inside the folder are ignored: config.json is config.json wherever it sits.

import { blobSource } from './bytes.ts';
import { lazyGgufModelFiles } from './gguf-model.ts';
import type { ModelFiles } from './model-files.ts';

export function pickedFiles(files: readonly File[], name = 'picked files'): ModelFiles {
  // One GGUF model file (llama.cpp / Ollama / LM Studio), picked or dropped alone or without
  // a config.json beside it, is the model by itself.
  const ggufs = files.filter((f) => /\.gguf$/i.test(f.name));
  if (ggufs.length === 1 && !files.some((f) => f.name === 'config.json')) return lazyGgufModelFiles(ggufs[0].name, async () => blobSource(ggufs[0], ggufs[0].name));
  if (ggufs.length > 1 && !files.some((f) => f.name === 'config.json')) throw new Error(`${name}: ${ggufs.length} GGUF files (${ggufs.map((f) => f.name).join(', ')}); pick the one model file to load`);
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
