// The kernels as a training loop: forward, backward, global-norm clipping and AdamW on a
// tiny random Llama memorising one batch. The loss must fall well below where it started.

import { describe, expect, it } from 'vitest';
import type { GpuBuf } from '../../src/engine/gpu/arena.ts';
import { gradNorm, gradNormPartials } from '../../src/engine/kernels/gradnorm.ts';
import { adamwStep } from '../../src/engine/kernels/optim.ts';
import { LlamaModel } from '../../src/engine/model/llama.ts';
import { rng, testGpu, zeros } from '../helpers/gpu.ts';
import { LLAMA, tinyModel } from '../helpers/tiny-model.ts';

describe('training smoke test', () => {
  it('30 AdamW steps with clipping memorise a batch (loss falls below a third)', async () => {
    const gpu = await testGpu();
    const { spec, files } = tinyModel(LLAMA, 5);
    const model = await LlamaModel.load(gpu, files);
    const [B, T] = [2, 8];
    const r = rng(3);
    const ids = Array.from({ length: B * T }, () => Math.floor(r() * spec.vocab));
    const targets = [...ids.slice(1), 0];
    const mask = ids.map(() => 1);
    const opt = gpu.arena.child();
    const state = new Map<string, { m: GpuBuf; v: GpuBuf; n: number }>();
    for (const [name, p] of model.params) state.set(name, { m: await zeros(gpu, p.size / 4, 'optimizer'), v: await zeros(gpu, p.size / 4, 'optimizer'), n: p.size / 4 });
    const partials = await opt.alloc('scratch', 4 * gradNormPartials([...state.values()].map((s) => s.n)), 'partials');
    const clip = await opt.alloc('scratch', 8, 'clip');
    const losses: number[] = [];
    for (let t = 1; t <= 30; t++) {
      const ga = gpu.arena.child();
      const { loss, grads } = await model.lossAndGrads(ids, targets, mask, B, T, ga);
      losses.push(loss);
      gradNorm(gpu, [...grads].map(([n, buf]) => ({ buf, n: state.get(n)?.n ?? 0 })), partials, clip, 1.0);
      for (const [name, g] of grads) {
        const s = state.get(name);
        const p = model.params.get(name);
        if (!s || !p) throw new Error(`no parameter ${name}`);
        adamwStep(gpu, p, g, s.m, s.v, s.n, t, { lr: 3e-2, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0 }, clip);
      }
      await gpu.flush();
      ga.dispose();
    }
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses.at(-1)).toBeLessThan(losses[0] / 3);
    for (const s of state.values()) {
      s.m.release();
      s.v.release();
    }
    opt.dispose();
    model.dispose();
  });
});
