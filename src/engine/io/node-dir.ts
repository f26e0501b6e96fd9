// Node host adapter: a model folder on disk as ModelFiles.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelFiles } from './model-files.ts';
import { nodeFileSource } from './node-file.ts';

export function nodeModelDir(dir: string): ModelFiles {
  return {
    name: dir,
    async has(file) {
      return existsSync(join(dir, file));
    },
    async open(file) {
      const p = join(dir, file);
      if (!existsSync(p)) throw new Error(`${dir}: no file ${file}`);
      return nodeFileSource(p);
    },
  };
}
