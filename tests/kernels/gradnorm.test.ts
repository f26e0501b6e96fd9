import { describe, expect, it } from 'vitest';
import { gradNorm, gradNormPartials } from '../../src/engine/kernels/gradnorm.ts';
import { gradNormRef } from '../../src/engine/kernels/gradnorm.ref.ts';
import { expectClose, randn, testGpu, upload, zeros } from '../helpers/gpu.ts';

describe('global gradient norm', () => {
  it('over buffers of sizes 1, 1000 and 70001 matches the reference; clip factor per clip_grad_norm_', async () => {
    // Sum of 71002 squares in f32 chunks of 256: rtol 1e-5.
    const gpu = await testGpu();
    const grads = [randn(1, 1), randn(1000, 2), randn(70001, 3, -0.1, 0.1)];
    const bufs = await Promise.all(grads.map((g) => upload(gpu, g, 'gradients')));
    const partials = await zeros(gpu, gradNormPartials(grads.map((g) => g.length)), 'scratch');
    const out = await zeros(gpu, 2);
    for (const maxNorm of [1, 100, 0]) {
      gradNorm(gpu, bufs.map((buf, i) => ({ buf, n: grads[i].length })), partials, out, maxNorm);
      const ref = gradNormRef(grads, maxNorm);
      expectClose(await gpu.readF32(out), [ref.norm, ref.scale], 1e-6, 1e-5, `maxNorm ${maxNorm}`);
    }
    expect(gradNormRef(grads, 1).scale).toBeLessThan(1);
    expect(gradNormRef(grads, 100).scale).toBe(1);
    for (const b of [...bufs, partials, out]) b.release();
  });

  it('a NaN or Inf gradient gives a non-finite norm', async () => {
    const gpu = await testGpu();
    for (const bad of [NaN, Infinity]) {
      const g = randn(600, 4);
      g[513] = bad;
      const b = await upload(gpu, g);
      const partials = await zeros(gpu, gradNormPartials([600]));
      const out = await zeros(gpu, 2);
      gradNorm(gpu, [{ buf: b, n: 600 }], partials, out, 1);
      expect(Number.isFinite((await gpu.readF32(out))[0])).toBe(false);
      for (const x of [b, partials, out]) x.release();
    }
  });
});
