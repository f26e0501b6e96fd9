import { describe, expect, it } from 'vitest';
import { geluBackward, geluForward, swigluBackward, swigluForward } from '../../src/engine/kernels/activation.ts';
import { geluBackwardRef, geluRef, swigluBackwardRef, swigluRef } from '../../src/engine/kernels/activation.ref.ts';
import { checkGradient, dot, expectClose, randn, testGpu, upload, zeros } from '../helpers/gpu.ts';

// Elementwise with exp/tanh in f32: atol 1e-5, rtol 1e-5.
const ATOL = 1e-5;
const RTOL = 1e-5;

describe('activations', () => {
  for (const n of [1, 257, 1031]) {
    it(`SwiGLU and GELU forward/backward at n=${n}, including |x| up to 100`, async () => {
      const gpu = await testGpu();
      const g = randn(n, n, -8, 8);
      g[0] = n > 1 ? 100 : -100; // overflow guard
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
      expectClose(await gpu.readF32(bdg), geluBackwardRef(dh, g), ATOL, RTOL, 'gelu dx');
      for (const b of [bg, bu, bdh, bh, bdg, bdu]) b.release();
    });
  }

  it('reference backward equals finite differences', () => {
    const g = Float64Array.from(randn(9, 1, -4, 4));
    const u = Float64Array.from(randn(9, 2));
    const dh = randn(9, 3);
    const r = swigluBackwardRef(dh, g, u);
    checkGradient((gg) => dot(swigluRef(gg, u), dh), g, r.dg, { what: 'swiglu dg' });
    checkGradient((uu) => dot(swigluRef(g, uu), dh), u, r.du, { what: 'swiglu du' });
    checkGradient((xx) => dot(geluRef(xx), dh), g, geluBackwardRef(dh, g), { what: 'gelu dx' });
  });
});
