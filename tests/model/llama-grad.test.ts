// Forward + backward of the Llama-family model on tiny random weights: the GPU loss matches
// the float64 reference composed of the kernel references, and every weight's GPU gradient
// matches central finite differences of that reference.

import { describe, expect, it } from 'vitest';
import { LlamaModel } from '../../src/engine/model/llama.ts';
import { llamaLossRef, type RefWeights } from '../../src/engine/model/llama.ref.ts';
import { rng, testGpu } from '../helpers/gpu.ts';
import { expectGradsMatchFiniteDifferences, LLAMA, QWEN2, tinyModel } from '../helpers/tiny-model.ts';

describe('Llama-family forward + backward', () => {
  for (const [name, config] of [['Llama (GQA, tied)', LLAMA], ['Qwen2 (q/k/v bias, untied, head_dim 6)', QWEN2]] as const) {
    it(`${name}: loss equals the f64 reference; every gradient equals its finite differences`, async () => {
      const gpu = await testGpu();
      const { spec, files, weights } = tinyModel(config, 100);
      const model = await LlamaModel.load(gpu, files);
      const [B, T] = [2, 5];
      const r = rng(7);
      const ids = Array.from({ length: B * T }, () => Math.floor(r() * spec.vocab));
      const targets = Array.from({ length: B * T }, () => Math.floor(r() * spec.vocab));
      const mask = Array.from({ length: B * T }, (_, i) => (i % 5 === 0 ? 0 : 1)); // prompt positions ignored
      const gradArena = gpu.arena.child();
      const { loss, grads } = await model.lossAndGrads(ids, targets, mask, B, T, gradArena);

      const ref: RefWeights = new Map([...weights].map(([k, v]) => [k, Float64Array.from(v)]));
      const refLoss = llamaLossRef(spec, ref, ids, targets, mask, B, T);
      expect(Math.abs(loss - refLoss)).toBeLessThan(1e-5 * Math.max(1, refLoss));

      expect([...grads.keys()].sort()).toEqual([...weights.keys()].sort());
      const refLossOf = () => llamaLossRef(spec, ref, ids, targets, mask, B, T);
      await expectGradsMatchFiniteDifferences(gpu, grads, ref, refLossOf, (n) => [0, Math.floor(n / 2), n - 1]);
      gradArena.dispose();
      model.dispose();
    });
  }
});
