import { describe, expect, it } from 'vitest';
import { adamwStep, sgdStep, type AdamWConfig, type SgdConfig } from '../../src/engine/kernels/optim.ts';
import { adamwRef, sgdRef, type AdamState } from '../../src/engine/kernels/optim.ref.ts';
import { expectClose, randn, testGpu, upload, zeros } from '../helpers/gpu.ts';

// A few f32 update steps: atol 1e-6, rtol 1e-5.
const ATOL = 1e-6;
const RTOL = 1e-5;

describe('optimizers', () => {
  it('AdamW: hand-computed first step (|Δ| = lr on step 1, decoupled decay)', () => {
    // t = 1: m̂ = g, v̂ = g², so the step is lr·g/(|g| + eps) = ±lr (up to eps), after p·(1 − lr·wd).
    const c: AdamWConfig = { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.5 };
    const r = adamwRef({ p: Float64Array.of(1, -2), m: new Float64Array(2), v: new Float64Array(2) }, [3, -0.25], 1, c);
    expect(r.p[0]).toBeCloseTo(1 * 0.95 - 0.1, 7);
    expect(r.p[1]).toBeCloseTo(-2 * 0.95 + 0.1, 7);
  });

  for (const n of [1, 257, 1000]) {
    it(`AdamW five steps on the GPU follow the reference (n=${n}), with and without a clip scale`, async () => {
      const gpu = await testGpu();
      const c: AdamWConfig = { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };
      const p0 = randn(n, 1);
      let s: AdamState = { p: Float64Array.from(p0), m: new Float64Array(n), v: new Float64Array(n) };
      const [bp, bm, bv, bg] = [await upload(gpu, p0, 'weights'), await zeros(gpu, n), await zeros(gpu, n), await zeros(gpu, n)];
      const clip = await upload(gpu, Float32Array.of(7, 0.25));
      for (let t = 1; t <= 5; t++) {
        const g = randn(n, 10 + t);
        gpu.write(bg, g);
        const useClip = t % 2 === 0;
        adamwStep(gpu, bp, bg, bm, bv, n, t, c, useClip ? clip : undefined);
        s = adamwRef(s, g, t, c, useClip ? 0.25 : 1);
      }
      expectClose(await gpu.readF32(bp), s.p, ATOL, RTOL, 'p');
      expectClose(await gpu.readF32(bm), s.m, ATOL, RTOL, 'm');
      expectClose(await gpu.readF32(bv), s.v, ATOL, RTOL, 'v');
      for (const b of [bp, bm, bv, bg, clip]) b.release();
    });
  }

  for (const cfg of [
    { lr: 0.1, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false },
    { lr: 0.05, momentum: 0.9, dampening: 0.1, weightDecay: 0.01, nesterov: false },
    { lr: 0.05, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: true },
  ] satisfies SgdConfig[]) {
    it(`SGD four steps follow the reference (${JSON.stringify(cfg)})`, async () => {
      const gpu = await testGpu();
      const n = 333;
      const p0 = randn(n, 2);
      let ref = { p: Float64Array.from(p0), buf: new Float64Array(n) };
      const [bp, bb, bg] = [await upload(gpu, p0), await zeros(gpu, n), await zeros(gpu, n)];
      for (let t = 0; t < 4; t++) {
        const g = randn(n, 20 + t);
        gpu.write(bg, g);
        sgdStep(gpu, bp, bg, bb, n, t === 0, cfg);
        ref = sgdRef(ref.p, ref.buf, g, t === 0, cfg);
      }
      expectClose(await gpu.readF32(bp), ref.p, ATOL, RTOL, 'sgd p');
      for (const b of [bp, bb, bg]) b.release();
    });
  }

  it('rejects a step number of 0', async () => {
    const gpu = await testGpu();
    const b = await zeros(gpu, 4);
    expect(() => adamwStep(gpu, b, b, b, b, 4, 0, { lr: 1, beta1: 0.9, beta2: 0.9, eps: 1e-8, weightDecay: 0 })).toThrow(/step t must be 1, 2/);
    b.release();
  });
});
