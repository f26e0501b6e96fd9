// Every WGSL file compiles on this adapter, and every kernel family has its typed wrapper,
// its plain-loop reference and its test beside it.

import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nodeHost } from '../../src/engine/gpu/host-node.ts';
import { testGpu } from '../helpers/gpu.ts';

const root = join(import.meta.dirname, '../..');
const families = readdirSync(join(root, 'shaders'))
  .filter((f) => f.endsWith('.wgsl'))
  .map((f) => f.slice(0, -5));

describe('shaders/', () => {
  it('has kernel families', () => {
    expect(families.length).toBeGreaterThan(0);
  });
  for (const name of families) {
    it(`${name}.wgsl compiles without errors (where the device has the features it enables) and has a header comment`, async () => {
      const gpu = await testGpu();
      const code = nodeHost().loadShader(name);
      expect(code.startsWith('//'), `${name}.wgsl starts with a header comment`).toBe(true);
      // `enable subgroups;` files only compile on devices with the feature; the runtime never
      // offers their kernels elsewhere (see matmulVariants), so there is nothing to compile.
      const needs = [...code.matchAll(/^enable\s+([a-z0-9_]+)\s*;/gm)].map((m) => m[1].replace(/_/g, '-'));
      if (!needs.every((f) => gpu.adapter.features.includes(f))) return;
      const info = await gpu.device.createShaderModule({ code, label: name }).getCompilationInfo();
      const errors = info.messages.filter((m) => m.type === 'error').map((m) => `${m.lineNum}:${m.linePos} ${m.message}`);
      expect(errors).toEqual([]);
    });
    // A family may split its variants over files: matmul_tiled.wgsl belongs to matmul.
    const family = name.split('_')[0];
    it(`${name}.wgsl has a wrapper, a reference and a test (${family})`, () => {
      for (const f of [`src/engine/kernels/${family}.ts`, `src/engine/kernels/${family}.ref.ts`, `tests/kernels/${family}.test.ts`]) {
        expect(existsSync(join(root, f)), f).toBe(true);
      }
    });
  }
});
