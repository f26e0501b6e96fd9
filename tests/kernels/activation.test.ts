import { describe, expect, it } from 'vitest';
import { geluBackward, geluForward, swigluBackward, swigluForward } from '../../src/engine/kernels/activation.ts';
import { geluBackwardRef, geluRef, swigluBackwardRef, swigluRef } from '../../src/engine/kernels/activation.ref.ts';
import { checkGradient, dot, expectClose, randn, testGpu, upload, zeros } from '../helpers/gpu.ts';

// Elementwise with exp in f32: |gpu − ref| <= 1e-5 + 1e-5·|ref| for every output.
// Inputs include |x| up to 1e20, where x³ overflows f32 and naive exp/tanh give inf/NaN.
const ATOL = 1e-5;
const RTOL = 1e-5;
const EXTREME = [0, -0.5, 100, -100, 1e4, -1e4, 1e20, -1e20, 20, -20, 88.8, -88.8, 6, -6, 3, -3];

describe('activations', () => {
  for (const n of [1, 257, 1031]) {
    it(`SwiGLU and GELU forward/backward at n=${n}, including |x| up to 1e20`, async () => {
      const gpu = await testGpu();
      const g = randn(n, n, -8, 8);
      g.set(EXTREME.slice(0, n), 0);
      const u = randn(n, n + 1, -2, 2);
      const dh = randn(n, n + 2);
      const [bg, bu, bdh] = [await upload(gpu, g), await upload(gpu, u), await upload(gpu, dh)];
      const [bh, bdg, bdu] = [await zeros(gpu, n), await zeros(gpu, n), await zeros(gpu, n)];
      swigluForward(gpu, bg, bu, bh, n);
      expectClose(await gpu.readF32(bh), swigluRef(g, u), ATOL, RTOL, 'swiglu');
      swigluBackward(gpu, bdh, bg, bu, bdg, bdu, n);
      const r = swigluBackwardRef(dh, g, u);
      expectClose(await gpu.readF32(bdg), r.dg, ATOL, RTOL, 'swiglu dg');
      expectClose(await gpu.readF32(bdu), r.du, ATOL, RTOL, 'swiglu du');
      geluForward(gpu, bg, bh, n);
      const y = await gpu.readF32(bh);
      expect(y.every(Number.isFinite)).toBe(true);
      expectClose(y, geluRef(g), ATOL, RTOL, 'gelu');
      geluBackward(gpu, bdh, bg, bdg, n);
      const dx = await gpu.readF32(bdg);
      expect(dx.every(Number.isFinite)).toBe(true);
      expectClose(dx, geluBackwardRef(dh, g), ATOL, RTOL, 'gelu dx');
      for (const b of [bg, bu, bdh, bh, bdg, bdu]) b.release();
    });
  }

  it('GELU keeps its relative precision for negative x (where 1 + tanh cancels)', async () => {
    const gpu = await testGpu();
    const x = Float32Array.from([-3, -4, -5, -6, -7, -8]);
    const [bx, by] = [await upload(gpu, x), await zeros(gpu, x.length)];
    geluForward(gpu, bx, by, x.length);
    // gelu(-8) ≈ -1e-36 is far below ATOL: check the relative error alone.
    expectClose(await gpu.readF32(by), geluRef(x), 0, 1e-4, 'gelu, relative');
    for (const b of [bx, by]) b.release();
  });

  it('reference backward equals finite differences', () => {
    const g = Float64Array.from(randn(9, 1, -4, 4));
    const u = Float64Array.from(randn(9, 2));
    const dh = randn(9, 3);
    const r = swigluBackwardRef(dh, g, u);
    checkGradient((gg) => dot(swigluRef(gg, u), dh), g, r.dg, { what: 'swiglu dg' });
    checkGradient((uu) => dot(swigluRef(g, uu), dh), u, r.du, { what: 'swiglu du' });
    checkGradient((xx) => dot(geluRef(xx), dh), g, geluBackwardRef(dh, g), { what: 'gelu dx' });
  });

  it('reference backward equals finite differences in the tails, to 1e-6 relative', () => {
    // One element at a time, so derivatives near 1e-60 are not drowned by other terms.
    // Central differences with h = 1e-5 err by about h²·|f'''/f'| < 1e-7 relative here.
    for (const v of [-20, -12, -7, -4, 4, 7, 12, 20]) {
      const one = Float64Array.of(v);
      const du = Float64Array.of(1.5);
      const w = [0.75];
      const s = swigluBackwardRef(w, one, du);
      checkGradient((gg) => dot(swigluRef(gg, du), w), one, s.dg, { atol: 0, rtol: 1e-6, what: `swiglu dg at ${v}` });
      checkGradient((xx) => dot(geluRef(xx), w), one, geluBackwardRef(w, one), { atol: 0, rtol: 1e-6, what: `gelu dx at ${v}` });
    }
  });
});

describe('GELU reference', () => {
  it('is the tanh form 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))) where that form is accurate', () => {
    const x = Float64Array.from(randn(50, 9, -5, 5));
    const tanhForm = x.map((v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3))));
    expectClose(geluRef(x), tanhForm, 1e-13, 1e-12, 'x·σ(2z) vs tanh form');
  });
});
