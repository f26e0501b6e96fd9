// Parity with an independent implementation: tests/fixtures/models/* were written by
// scripts/make-fixtures.py from PyTorch code written from the architectures' definitions
// (float64). Each fixture is a model folder as another tool would make it; webtune loads
// it through the same path as a user's folder and must reproduce the golden logits, loss,
// gradients and greedy tokens.

import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { nodeFileSource } from '../../src/engine/io/node-file.ts';
import { nodeModelDir } from '../../src/engine/io/node-dir.ts';
import { SafetensorsFile } from '../../src/engine/io/safetensors.ts';
import { loadModel } from '../../src/engine/model/load.ts';
import { expectClose, testGpu } from '../helpers/gpu.ts';

const ROOT = new URL('../fixtures/models/', import.meta.url).pathname;
const variants = readdirSync(ROOT);

describe('PyTorch fixtures', () => {
  it('exist', () => expect(variants.length).toBeGreaterThanOrEqual(4));
  for (const v of variants) {
    it(`${v}: logits, loss, every gradient and greedy tokens match PyTorch`, async () => {
      const gpu = await testGpu();
      const golden = await SafetensorsFile.open(nodeFileSource(`${ROOT}${v}/golden.safetensors`));
      const model = await loadModel(gpu, nodeModelDir(`${ROOT}${v}`));
      const ids = [...(await golden.readI32('ids'))];
      const targets = [...(await golden.readI32('targets'))];
      const mask = [...(await golden.readI32('mask'))];
      const [B, T] = golden.info('ids').shape;
      // Logits: f32 GPU vs f64 PyTorch over a few layers of O(1) values: atol 2e-5, rtol 1e-4.
      expectClose(await model.logits(ids, B, T), await golden.readF32('logits'), 2e-5, 1e-4, `${v} logits`);
      const ga = gpu.arena.child();
      const { loss, grads } = await model.lossAndGrads(ids, targets, mask, B, T, ga);
      expect(Math.abs(loss - (await golden.readF32('loss'))[0])).toBeLessThan(2e-5);
      const names = golden.names.filter((n) => n.startsWith('grad.')).map((n) => n.slice(5));
      expect([...grads.keys()].sort()).toEqual(names.sort());
      // Gradients: atol 2e-6 (they are O(1e-2)), rtol 1e-3.
      for (const n of names) {
        const g = grads.get(n);
        if (!g) throw new Error(`no gradient for ${n}`);
        expectClose(await gpu.readF32(g), await golden.readF32(`grad.${n}`), 2e-6, 1e-3, `${v} grad ${n}`);
      }
      ga.dispose();
      const greedy = [...(await golden.readI32('greedy'))];
      expect(await model.generate(greedy.slice(0, 3), { maxNewTokens: 8 })).toEqual(greedy.slice(3));
      model.dispose();
    });
  }
});
