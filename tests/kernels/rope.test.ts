import { describe, expect, it } from 'vitest';
import { ropeAttentionScaling, ropeBackward, ropeForward, ropeInvFreq, type RopeShape } from '../../src/engine/kernels/rope.ts';
import { ropeRef } from '../../src/engine/kernels/rope.ref.ts';
import { checkGradient, dot, expectClose, randn, testGpu, upload } from '../helpers/gpu.ts';

// The reference forms the angle in f32 exactly as the kernel does, so what remains is the
// kernel's sin/cos of that angle (~1e-7, ~1e-6 at positions near 1e5, see rope.wgsl) times
// |x| <= ~4, plus the f32 rotation: atol 1e-5, rtol 1e-5.
const ATOL = 1e-5;
const RTOL = 1e-5;

describe('RoPE', () => {
  const shapes: RopeShape[] = [
    { B: 1, T: 1, H: 1, D: 2, R: 2, posOffset: 0 },
    { B: 2, T: 5, H: 3, D: 8, R: 8, posOffset: 0 },
    { B: 1, T: 7, H: 2, D: 12, R: 6, posOffset: 2048 }, // partial rotary, KV-cache offset
    { B: 2, T: 9, H: 4, D: 18, R: 16, posOffset: 3 }, // 576 pairs: more than one workgroup of 256
    { B: 1, T: 3, H: 2, D: 10, R: 10, posOffset: 100000 }, // long positions: angles up to 1e5 rad
  ];
  for (const s of shapes) {
    it(`forward and backward at ${JSON.stringify(s)}`, async () => {
      const gpu = await testGpu();
      const inv = ropeInvFreq(10000, s.R);
      const n = s.B * s.T * s.H * s.D;
      const x = randn(n, n);
      const dy = randn(n, n + 1);
      const [bi, bx, bdy] = [await upload(gpu, inv), await upload(gpu, x), await upload(gpu, dy)];
      ropeForward(gpu, bi, bx, s);
      const y = await gpu.readF32(bx);
      expectClose(y, ropeRef(x, inv, s), ATOL, RTOL, 'forward');
      for (let i = 0; i < n; i++) if (i % s.D >= s.R) expect(y[i]).toBe(x[i]); // pass-through dims
      ropeBackward(gpu, bi, bdy, s);
      expectClose(await gpu.readF32(bdy), ropeRef(dy, inv, s, -1), ATOL, RTOL, 'backward');
      ropeBackward(gpu, bi, bx, s);
      expectClose(await gpu.readF32(bx), x, 2 * ATOL, RTOL, 'backward undoes forward');
      for (const b of [bi, bx, bdy]) b.release();
    });
  }

  it('reference backward equals finite differences of the forward', () => {
    const s: RopeShape = { B: 1, T: 3, H: 2, D: 6, R: 4, posOffset: 5 };
    const inv = ropeInvFreq(500, s.R);
    const x = Float64Array.from(randn(36, 1));
    const g = randn(36, 2);
    checkGradient((xx) => dot(ropeRef(xx, inv, s), g), x, ropeRef(g, inv, s, -1), { indices: [...Array(36).keys()] });
  });

  it('inverse frequencies: default and linear scaling', () => {
    expect([...ropeInvFreq(10000, 4)]).toEqual([1, 0.01].map(Math.fround));
    expect([...ropeInvFreq(10000, 4, { type: 'linear', factor: 4 })]).toEqual([0.25, 0.0025].map(Math.fround));
    const d = ropeInvFreq(10000, 64);
    for (let i = 0; i < 32; i++) expect(d[i] / 10000 ** (-i / 32) - 1).toBeLessThan(1e-6);
    expect(ropeAttentionScaling({ type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 })).toBe(1);
  });

  it('inverse frequencies: llama3 scaling at the Llama 3.2 configuration', () => {
    // rope_theta 500000, head dim 64, factor 32, low 1, high 4, original context 8192:
    // low-frequency wavelength bound 8192, high-frequency bound 2048. Hand-computed in f64:
    //   i  f = θ^(−2i/64)        λ = 2π/f      band    expected
    //   0  1                     6.28          high    1
    //  14  3.2114459947525913e-3 1956.5        high    3.2114459947525913e-3
    //  15  2.1311195369119653e-3 2948.3        medium  s = (8192/λ − 1)/3 = 0.59284929500
    //                                                  (1 − s)·f/32 + s·f = 1.290547928209264e-3
    //  16  1.414213562373095e-3  4442.9        medium  s = 0.28128260516, 4.2955679655936815e-4
    //  17  9.384738703573801e-4  6695.1        medium  s = 0.07452656416, 9.70828780262767e-5
    //  18  6.22772421914596e-4   10089.1       low     f/32 = 1.9461638184831125e-5
    //  31  3.0138581521391708e-6 2084765       low     9.418306725434909e-8
    const l3 = ropeInvFreq(500000, 64, { type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 });
    const expected: [number, number][] = [
      [0, 1], [14, 3.2114459947525913e-3], [15, 1.290547928209264e-3], [16, 4.2955679655936815e-4],
      [17, 9.70828780262767e-5], [18, 1.9461638184831125e-5], [31, 9.418306725434909e-8],
    ];
    // f32 steps as torch takes them: a few ulps (relative 1e-6) from the f64 values.
    for (const [i, e] of expected) expect(Math.abs(l3[i] / e - 1), `inv_freq[${i}]`).toBeLessThan(1e-6);
  });
});
