// The CLI's method discovery: every folder under src/engine/methods/ with an index.ts is
// imported, and registers itself (Vite hosts use methods/all.ts's glob instead).

import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../engine/methods');

export async function loadMethods(): Promise<void> {
  for (const d of readdirSync(ROOT, { withFileTypes: true })) {
    const index = join(ROOT, d.name, 'index.ts');
    if (d.isDirectory() && existsSync(index)) await import(pathToFileURL(index).href);
  }
}
