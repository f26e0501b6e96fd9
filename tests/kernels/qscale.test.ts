import { describe, expect, it } from 'vitest';
import { packScalesF16, projectScaleSign } from '../../src/engine/kernels/qscale.ts';
import { packScalesF16Ref, projectScaleSignRef } from '../../src/engine/kernels/qscale.ref.ts';
import { f16ToF32 } from '../../src/engine/quant/block.ts';
import { expectClose, randn, rng, testGpu, upload, zeros } from '../helpers/gpu.ts';

// Both kernels are exact: the f16 rounding is integer work on the f32 bits (atol = rtol = 0).

/** Values across the f16 range: normals of many magnitudes, f16 subnormals, exact halfway
 *  cases (ties to even), values that round up into the next binade, overflow, signed zeros. */
function awkward(n: number, seed: number): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const k = i % 8;
    const s = r() < 0.5 ? -1 : 1;
    if (k === 0) out[i] = s * 2 ** (-30 + 50 * r()) ; // 1e-9 .. 1e6
    else if (k === 1) out[i] = s * r() * 6.1e-5; // f16 subnormal range
    else if (k === 2) out[i] = s * (f16ToF32(Math.floor(r() * 0x7bff)) + f16ToF32(Math.floor(r() * 0x7bff) + 1)) / 2; // near halfway
    else if (k === 3) out[i] = s * f16ToF32(0x3c00 + Math.floor(r() * 0x3ff)) * (1 + 2 ** -11); // exact halfway
    else if (k === 4) out[i] = s * 65520 * (1 + r()); // overflow
    else if (k === 5) out[i] = s * 0;
    else out[i] = (r() - 0.5) * 0.02; // typical scales
  }
  return out;
}

describe('qscale', () => {
  it('pack_f16 equals the host round-to-nearest-even bit for bit, on odd and even counts', async () => {
    const gpu = await testGpu();
    for (const n of [1, 2, 3, 257, 1001, 70_001]) {
      const x = awkward(n, n);
      const src = await upload(gpu, x);
      const words = await upload(gpu, new Uint32Array(Math.ceil(n / 2)).fill(0xdeadbeef));
      packScalesF16(gpu, src, words, n);
      expectClose(await gpu.readU32(words), packScalesF16Ref(x), 0, 0, `pack n=${n}`);
      src.release();
      words.release();
    }
  });

  it('f16 values pack back to exactly their own bits', async () => {
    const gpu = await testGpu();
    const bits = Uint32Array.from({ length: 0x7c00 * 2 }, (_, i) => (i < 0x7c00 ? i : 0x8000 | (i - 0x7c00)));
    const x = Float32Array.from(bits, (h) => f16ToF32(h));
    const src = await upload(gpu, x);
    const words = await zeros(gpu, bits.length / 2);
    packScalesF16(gpu, src, words, bits.length);
    const got = await gpu.readU32(words);
    const want = new Uint32Array(bits.length / 2);
    for (let i = 0; i < bits.length; i++) want[i >> 1] |= bits[i] << (16 * (i & 1));
    expectClose(got, want, 0, 0, 'f16 round trip');
  });

  it('project_sign clamps each value to the side of 0 its sign bit says', async () => {
    const gpu = await testGpu();
    for (const n of [1, 31, 33, 1000]) {
      const m0 = randn(n, n + 7, -1, 1);
      const signs = Uint32Array.from({ length: Math.ceil(n / 32) }, (_, i) => Math.floor(rng(i + 1)() * 2 ** 32));
      const [bs, bm] = [await upload(gpu, signs), await upload(gpu, m0)];
      projectScaleSign(gpu, bs, bm, n);
      const got = await gpu.readF32(bm);
      expectClose(got, projectScaleSignRef(m0, signs), 0, 0, `project n=${n}`);
      expect(got.every((v, i) => ((signs[i >> 5] >>> (i & 31)) & 1 ? v <= 0 : v >= 0))).toBe(true);
      bs.release();
      bm.release();
    }
  });
});
