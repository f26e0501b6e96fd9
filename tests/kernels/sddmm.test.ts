import { describe, expect, it } from 'vitest';
import { sddmm, type SddmmShape } from '../../src/engine/kernels/sddmm.ts';
import { sddmmRef } from '../../src/engine/kernels/sddmm.ref.ts';
import { buildIndexList } from '../../src/engine/kernels/sparse.ts';
import { checkGradient, expectClose, randn, rng, testGpu, upload, zeros } from '../helpers/gpu.ts';

// An f32 sum of N products against the f64 reference: atol 1e-5, rtol 1e-4 (N ≤ 70).

function sample(n: number, k: number, seed: number): Uint32Array {
  const r = rng(seed);
  const s = new Set<number>([0, n - 1]);
  while (s.size < k) s.add(Math.floor(r() * n));
  return buildIndexList([...s], n);
}

describe('sddmm', () => {
  for (const layout of ['out-in', 'in-out'] as const) {
    for (const [N, out, inp, k] of [[37, 13, 29, 300], [1, 5, 3, 7], [70, 3, 131, 1], [8, 96, 17, 1632]] as const) {
      it(`${layout} N=${N} out=${out} in=${inp} K=${k}: GPU equals the reference`, async () => {
        const gpu = await testGpu();
        const idx = sample(out * inp, Math.min(k, out * inp), N + out + inp);
        const dy = randn(N * out, 1);
        const x = randn(N * inp, 2);
        const s: SddmmShape = { k: idx.length, n: N, out, in: inp, layout };
        const [bi, bdy, bx, bv] = [await upload(gpu, idx), await upload(gpu, dy), await upload(gpu, x), await zeros(gpu, idx.length)];
        sddmm(gpu, bi, bdy, bx, bv, s);
        expectClose(await gpu.readF32(bv), sddmmRef(dy, x, idx, s), 1e-5, 1e-4, `sddmm ${layout}`);
        // alpha, beta accumulate into what is there.
        const before = await gpu.readF32(bv);
        sddmm(gpu, bi, bdy, bx, bv, { ...s, alpha: -0.5, beta: 2 });
        expectClose(await gpu.readF32(bv), sddmmRef(dy, x, idx, { ...s, alpha: -0.5, beta: 2 }, before), 1e-5, 1e-4, `sddmm ${layout} alpha beta`);
        for (const b of [bi, bdy, bx, bv]) b.release();
      });
    }
  }

  it('beta = 0 never reads vals (NaN there does not leak); an index past W writes 0; K = 0 is a no-op', async () => {
    const gpu = await testGpu();
    const idx = Uint32Array.of(0, 5, 99);
    const dy = randn(4 * 2, 3);
    const x = randn(4 * 3, 4);
    const [bi, bdy, bx, bv] = [await upload(gpu, idx), await upload(gpu, dy), await upload(gpu, x), await upload(gpu, Float32Array.of(NaN, NaN, NaN))];
    sddmm(gpu, bi, bdy, bx, bv, { k: 3, n: 4, out: 2, in: 3, layout: 'out-in' });
    const got = await gpu.readF32(bv);
    expectClose(got.slice(0, 2), sddmmRef(dy, x, idx.slice(0, 2), { k: 2, n: 4, out: 2, in: 3, layout: 'out-in' }), 1e-6, 1e-5, 'beta 0');
    expect(got[2]).toBe(0);
    sddmm(gpu, bi, bdy, bx, bv, { k: 0, n: 4, out: 2, in: 3, layout: 'out-in' });
    expect(() => sddmm(gpu, bi, bdy, bx, bv, { k: 4, n: 4, out: 2, in: 3, layout: 'out-in' })).toThrow(/idx needs 4 values/);
    for (const b of [bi, bdy, bx, bv]) b.release();
  });

  it('is the gradient of L = Σ dy ⊙ (x·Wᵀ) at the sampled entries (finite differences of the reference)', () => {
    for (const layout of ['out-in', 'in-out'] as const) {
      const [N, out, inp] = [6, 4, 5];
      const dy = Float64Array.from(randn(N * out, 5));
      const x = Float64Array.from(randn(N * inp, 6));
      const idx = sample(out * inp, 9, 7);
      const s: SddmmShape = { k: idx.length, n: N, out, in: inp, layout };
      const g = sddmmRef(dy, x, idx, s);
      const W = Float64Array.from(randn(out * inp, 8));
      const loss = (w: Float64Array) => {
        let acc = 0;
        for (let n = 0; n < N; n++) for (let o = 0; o < out; o++) {
          let y = 0;
          for (let i = 0; i < inp; i++) y += x[n * inp + i] * w[layout === 'out-in' ? o * inp + i : i * out + o];
          acc += dy[n * out + o] * y;
        }
        return acc;
      };
      const dense = new Float64Array(out * inp);
      idx.forEach((at, k) => (dense[at] = g[k]));
      checkGradient(loss, W, dense, { indices: [...idx], what: layout });
    }
  });
});
