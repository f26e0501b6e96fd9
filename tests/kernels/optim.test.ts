import { describe, expect, it } from 'vitest';
import { gradNorm, gradNormPartials } from '../../src/engine/kernels/gradnorm.ts';
import { adamwStep, sgdStep, type AdamWConfig, type SgdConfig } from '../../src/engine/kernels/optim.ts';
import { adamwRef, sgdRef, type AdamState, type SgdState } from '../../src/engine/kernels/optim.ref.ts';
import { expectClose, randn, testGpu, upload, zeros } from '../helpers/gpu.ts';

// A few f32 update steps vs float64: atol 1e-6, rtol 1e-5.
const ATOL = 1e-6;
const RTOL = 1e-5;

describe('optimizers', () => {
  it('AdamW reference: two hand-computed steps (PyTorch AdamW algorithm)', () => {
    // p0 = 1, lr 0.1, betas (0.9, 0.999), eps 1e-8, weight decay 0.5; gradients 3 then −1.
    // t = 1: p = 1·(1 − 0.05) = 0.95; m = 0.3, v = 0.009; m̂ = 3, v̂ = 9;
    //        p −= 0.1·3/(3 + 1e-8)  →  p = 0.85 + 3.3e-10.
    // t = 2: p = 0.85·0.95 = 0.8075; m = 0.27 − 0.1 = 0.17; v = 0.008991 + 0.001 = 0.009991;
    //        m̂ = 0.17/0.19 = 0.894737, v̂ = 0.009991/0.001999 = 4.997999, √v̂ = 2.235620;
    //        p −= 0.1·0.894737/2.235620 = 0.0400218  →  p = 0.767478.
    const c: AdamWConfig = { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.5 };
    const s1 = adamwRef({ p: Float64Array.of(1), m: new Float64Array(1), v: new Float64Array(1) }, [3], 1, c);
    expect(s1.p[0]).toBeCloseTo(0.85 + 3.3333e-10, 13);
    expect(s1.m[0]).toBeCloseTo(0.3, 14);
    expect(s1.v[0]).toBeCloseTo(0.009, 14);
    const s2 = adamwRef(s1, [-1], 2, c);
    expect(s2.p[0]).toBeCloseTo(0.7674781433, 9);
    expect(s2.m[0]).toBeCloseTo(0.17, 14);
    expect(s2.v[0]).toBeCloseTo(0.009991, 14);
  });

  it('SGD reference: hand-computed momentum, Nesterov and weight decay steps (PyTorch SGD)', () => {
    const base: SgdConfig = { lr: 0.1, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: false };
    // momentum: buf = 2 → p = 0.8; buf = 0.9·2 + 2 = 3.8 → p = 0.8 − 0.38 = 0.42
    let s = sgdRef([1], [0], [2], true, base);
    s = sgdRef(s.p, s.buf, [2], false, base);
    expect(s.p[0]).toBeCloseTo(0.42, 14);
    expect(s.buf[0]).toBeCloseTo(3.8, 14);
    // Nesterov: buf = 2, step 2 + 0.9·2 = 3.8 → p = 0.62; buf = 3.8, step 2 + 0.9·3.8 = 5.42 → p = 0.078
    let n = sgdRef([1], [0], [2], true, { ...base, nesterov: true });
    n = sgdRef(n.p, n.buf, [2], false, { ...base, nesterov: true });
    expect(n.p[0]).toBeCloseTo(0.078, 14);
    // Coupled weight decay without momentum: g = 2 + 0.1·1 = 2.1 → p = 0.79
    expect(sgdRef([1], [0], [2], true, { ...base, momentum: 0, weightDecay: 0.1 }).p[0]).toBeCloseTo(0.79, 14);
    // Dampening applies from the second step on: buf = 2, then 0.9·2 + 0.5·2 = 2.8 → p = 1 − 0.2 − 0.28
    let d = sgdRef([1], [0], [2], true, { ...base, dampening: 0.5 });
    d = sgdRef(d.p, d.buf, [2], false, { ...base, dampening: 0.5 });
    expect(d.p[0]).toBeCloseTo(0.52, 14);
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

  it('AdamW on the GPU reproduces the hand-computed two steps', async () => {
    const gpu = await testGpu();
    const c: AdamWConfig = { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.5 };
    const [bp, bm, bv, bg] = [await upload(gpu, Float32Array.of(1)), await zeros(gpu, 1), await zeros(gpu, 1), await upload(gpu, Float32Array.of(3))];
    adamwStep(gpu, bp, bg, bm, bv, 1, 1, c);
    gpu.write(bg, Float32Array.of(-1));
    adamwStep(gpu, bp, bg, bm, bv, 1, 2, c);
    expect((await gpu.readF32(bp))[0]).toBeCloseTo(0.7674781433, 6);
    for (const b of [bp, bm, bv, bg]) b.release();
  });

  for (const cfg of [
    { lr: 0.1, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false },
    { lr: 0.05, momentum: 0.9, dampening: 0.1, weightDecay: 0.01, nesterov: false },
    { lr: 0.05, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: true },
  ] satisfies SgdConfig[]) {
    it(`SGD four steps follow the reference (${JSON.stringify(cfg)}), clip scale on odd steps`, async () => {
      const gpu = await testGpu();
      const n = 333;
      const p0 = randn(n, 2);
      let ref: SgdState = { p: Float64Array.from(p0), buf: new Float64Array(n) };
      const [bp, bb, bg] = [await upload(gpu, p0), await zeros(gpu, n), await zeros(gpu, n)];
      const clip = await upload(gpu, Float32Array.of(3, 0.5));
      for (let t = 0; t < 4; t++) {
        const g = randn(n, 20 + t);
        gpu.write(bg, g);
        sgdStep(gpu, bp, bg, bb, n, t === 0, cfg, t % 2 ? clip : undefined);
        ref = sgdRef(ref.p, ref.buf, g, t === 0, cfg, t % 2 ? 0.5 : 1);
      }
      expectClose(await gpu.readF32(bp), ref.p, ATOL, RTOL, 'sgd p');
      if (cfg.momentum) expectClose(await gpu.readF32(bb), ref.buf, ATOL, RTOL, 'sgd buf');
      for (const b of [bp, bb, bg, clip]) b.release();
    });
  }

  it('clip straight from gradNorm; a NaN gradient leaves weights and state untouched', async () => {
    const gpu = await testGpu();
    const n = 300;
    const c: AdamWConfig = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };
    const p0 = randn(n, 3);
    const g = randn(n, 4, -2, 2);
    const [bp, bm, bv, bg] = [await upload(gpu, p0), await zeros(gpu, n), await zeros(gpu, n), await upload(gpu, g)];
    const partials = await zeros(gpu, gradNormPartials([n]));
    const clip = await zeros(gpu, 2);
    gradNorm(gpu, [{ buf: bg, n }], partials, clip, 1);
    adamwStep(gpu, bp, bg, bm, bv, n, 1, c, clip);
    const [norm, scale] = await gpu.readF32(clip);
    expect(scale).toBeLessThan(1);
    const s = adamwRef({ p: Float64Array.from(p0), m: new Float64Array(n), v: new Float64Array(n) }, g, 1, c, scale);
    expect(norm).toBeGreaterThan(1);
    expectClose(await gpu.readF32(bm), s.m, ATOL, RTOL, 'clipped m');
    const [p1, m1, v1] = [await gpu.readF32(bp), await gpu.readF32(bm), await gpu.readF32(bv)];
    g[17] = NaN;
    gpu.write(bg, g);
    gradNorm(gpu, [{ buf: bg, n }], partials, clip, 1);
    adamwStep(gpu, bp, bg, bm, bv, n, 2, c, clip);
    const buf = await zeros(gpu, n);
    sgdStep(gpu, bp, bg, buf, n, true, { lr: 0.1, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: false }, clip);
    expect(Number.isNaN((await gpu.readF32(clip))[0])).toBe(true);
    expect(await gpu.readF32(bp)).toEqual(p1);
    expect(await gpu.readF32(bm)).toEqual(m1);
    expect(await gpu.readF32(bv)).toEqual(v1);
    expect([...(await gpu.readF32(buf))].every((x) => x === 0)).toBe(true);
    for (const b of [bp, bm, bv, bg, partials, clip, buf]) b.release();
  });

  it('rejects a step number of 0, short buffers and Nesterov without momentum', async () => {
    const gpu = await testGpu();
    const b = await zeros(gpu, 4);
    const c = { lr: 1, beta1: 0.9, beta2: 0.9, eps: 1e-8, weightDecay: 0 };
    expect(() => adamwStep(gpu, b, b, b, b, 4, 0, c)).toThrow(/step t must be 1, 2/);
    expect(() => adamwStep(gpu, b, b, b, b, 5, 1, c)).toThrow(/p needs 5 floats/);
    expect(() => sgdStep(gpu, b, b, b, 4, true, { lr: 1, momentum: 0, dampening: 0, weightDecay: 0, nesterov: true })).toThrow(/Nesterov/);
    b.release();
  });
});
