// The fused LM head + cross-entropy (decoder.ts headLoss): over chunks of rows, the loss and
// every gradient equal the single-chunk pass (itself checked against PyTorch by
// fixtures.test.ts and against finite differences by llama-grad.test.ts), for a tied head, an
// untied one, a quantized one and GPT-2's; the activations' peak shrinks with the chunk and
// the estimate (memory.ts activationBytes) follows it.

import { describe, expect, it } from 'vitest';
import type { GpuBuf } from '../../src/engine/gpu/arena.ts';
import { LlamaModel } from '../../src/engine/model/llama.ts';
import { llamaLossRef, type RefWeights } from '../../src/engine/model/llama.ref.ts';
import { activationBytes, headChunkRows } from '../../src/engine/model/memory.ts';
import { expectClose, rng, testGpu } from '../helpers/gpu.ts';
import { LLAMA, QWEN2, tinyModel } from '../helpers/tiny-model.ts';

const [B, T] = [2, 5];

function batch(V: number, seed: number) {
  const r = rng(seed);
  const ids = Array.from({ length: B * T }, () => Math.floor(r() * V));
  const targets = Array.from({ length: B * T }, () => Math.floor(r() * V));
  const mask = Array.from({ length: B * T }, (_, i) => (i % 5 === 0 ? 0 : 1));
  return { ids, targets, mask };
}

describe('fused LM head + cross-entropy in chunks of rows', () => {
  for (const [name, config, precision] of [
    ['Llama, tied head', LLAMA, 'f32'],
    ['Qwen2, untied head', QWEN2, 'f32'],
    ['Llama, q4 base and head', { ...LLAMA, tie_word_embeddings: false }, 'q4'],
  ] as const) {
    it(`${name}: 3-row chunks (3 + 3 + 3 + 1 of 10 rows) give the loss and gradients of one chunk; peak and estimate shrink`, async () => {
      const gpu = await testGpu();
      const { spec, files, weights } = tinyModel(config, 31);
      const V = spec.vocab;
      const { ids, targets, mask } = batch(V, 5);
      // A model each: passes keep their planned buffers, so a second shape's peak would hide.
      const run = async (budget: number) => {
        const model = await LlamaModel.load(gpu, files, { precision });
        model.headChunkFloats = budget;
        const arena = gpu.arena.child();
        const before = gpu.ledger.snapshot().live.activations;
        gpu.ledger.resetPeak();
        const { loss, grads } = await model.lossAndGrads(ids, targets, mask, B, T, arena);
        const peak = gpu.ledger.snapshot().peak.activations - before;
        const host = new Map<string, Float32Array>();
        for (const [k, b] of grads as Map<string, GpuBuf>) host.set(k, await gpu.readF32(b));
        const evalLoss = (await model.loss(ids, targets, mask, B, T)).loss;
        arena.dispose();
        model.dispose();
        return { loss, evalLoss, host, peak };
      };
      const budget = 3 * V;
      expect(headChunkRows(B * T, V, budget)).toBe(3);
      const one = await run(1 << 22);
      const chunked = await run(budget);
      expect(Math.abs(chunked.loss - one.loss)).toBeLessThan(1e-6 * Math.max(1, one.loss));
      expect(Math.abs(chunked.evalLoss - one.loss)).toBeLessThan(1e-6 * Math.max(1, one.loss));
      if (precision === 'f32') {
        const ref: RefWeights = new Map([...weights].map(([k, v]) => [k, Float64Array.from(v)]));
        expect(Math.abs(chunked.loss - llamaLossRef(spec, ref, ids, targets, mask, B, T))).toBeLessThan(1e-5 * Math.max(1, one.loss));
      }
      expect([...chunked.host.keys()].sort()).toEqual([...one.host.keys()].sort());
      expect(chunked.host.size).toBeGreaterThan(0);
      for (const [k, g] of one.host) expectClose(chunked.host.get(k) ?? [], g, 1e-6, 1e-4, k);
      // (N, V) logits and dlogits give way to (3, V) and the chunk's copies.
      expect(chunked.peak).toBeLessThan(one.peak);
      for (const [r, b] of [[one, 1 << 22], [chunked, budget]] as const) {
        const est = activationBytes(spec, B, T, true, 0, b);
        expect(Math.abs(est - r.peak) / r.peak, `estimate ${est} vs measured ${r.peak} (budget ${b})`).toBeLessThanOrEqual(0.05);
      }
    });
  }
});
