import { describe, expect, it } from 'vitest';
import { ropeBackward, ropeForward, ropeInvFreq, type RopeShape } from '../../src/engine/kernels/rope.ts';
import { ropeRef } from '../../src/engine/kernels/rope.ref.ts';
import { checkGradient, dot, expectClose, randn, testGpu, upload } from '../helpers/gpu.ts';

describe('RoPE', () => {
  // Angles formed in f32 (as HF does): error ~ ulp(pos·f) ≈ 6e-8·pos·f. Positions here < 2100:
  // atol 3e-4 covers it; the rotation itself adds ~1e-7.
  const shapes: RopeShape[] = [
    { B: 1, T: 1, H: 1, D: 2, R: 2, posOffset: 0 },
    { B: 2, T: 5, H: 3, D: 8, R: 8, posOffset: 0 },
    { B: 1, T: 7, H: 2, D: 12, R: 6, posOffset: 2048 }, // partial rotary, KV-cache offset
  ];
  for (const s of shapes) {
    it(`forward and backward at ${JSON.stringify(s)}`, async () => {
      const gpu = await testGpu();
      const inv = ropeInvFreq(10000, s.R);
      const n = s.B * s.T * s.H * s.D;
      const x = randn(n, n);
      const [bi, bx] = [await upload(gpu, inv), await upload(gpu, x)];
      ropeForward(gpu, bi, bx, s);
      const y = await gpu.readF32(bx);
      expectClose(y, ropeRef(x, inv, s), 3e-4, 1e-5, 'forward');
      for (let i = 0; i < n; i++) if (i % s.D >= s.R) expect(y[i]).toBe(x[i]); // pass-through dims
      ropeBackward(gpu, bi, bx, s);
      expectClose(await gpu.readF32(bx), x, 3e-4, 1e-5, 'backward undoes forward');
      bi.release();
      bx.release();
    });
  }

  it('reference backward equals finite differences of the forward', () => {
    const s: RopeShape = { B: 1, T: 3, H: 2, D: 6, R: 4, posOffset: 5 };
    const inv = ropeInvFreq(500, s.R);
    const x = Float64Array.from(randn(36, 1));
    const g = randn(36, 2);
    checkGradient((xx) => dot(ropeRef(xx, inv, s), g), x, ropeRef(g, inv, s, -1), { indices: [...Array(36).keys()] });
  });

  it('inverse frequencies: default, linear and llama3 scaling', () => {
    expect([...ropeInvFreq(10000, 4)]).toEqual([1, 0.01].map(Math.fround));
    expect([...ropeInvFreq(10000, 4, { type: 'linear', factor: 4 })]).toEqual([0.25, 0.0025].map(Math.fround));
    // Llama 3.1 rule (factor 8, low 1, high 4, context 8192): wavelength 2π/f.
    // theta 1e6, R 6 gives f = 1, 1e-2, 1e-4. f = 1e-4 (λ = 62832 > 8192): f / 8.
    // f = 1e-3 (λ = 6283, medium): smooth = (8192/6283.19 − 1)/3 = 0.101268, f·((1 − s)/8 + s).
    const l3 = ropeInvFreq(1e6, 6, { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 });
    expect(l3[0]).toBe(1);
    expect(l3[1]).toBeCloseTo(1e-2, 8); // λ = 628 < 8192/4: high frequency, unchanged
    expect(l3[2]).toBeCloseTo(1e-4 / 8, 10);
    const mid = ropeInvFreq(1e6, 4, { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 });
    expect(mid[1]).toBeCloseTo(1e-3 * ((1 - 0.101268) / 8 + 0.101268), 8);
  });
});
