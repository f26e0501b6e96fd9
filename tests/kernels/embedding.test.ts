import { describe, expect, it } from 'vitest';
import { embeddingBackward, embeddingForward, validateTokenIds } from '../../src/engine/kernels/embedding.ts';
import { embeddingBackwardRef, embeddingRef } from '../../src/engine/kernels/embedding.ref.ts';
import { checkGradient, dot, expectClose, randn, rng, testGpu, upload } from '../helpers/gpu.ts';

// Gather is exact; scatter sums at most n values in order: atol 1e-6, rtol 1e-6.
describe('embedding', () => {
  for (const [n, C, V] of [[1, 1, 1], [7, 67, 37], [300, 5, 300]] as const) {
    it(`gather and scatter-add at n=${n} C=${C} V=${V} (repeated ids, an out-of-range id gives zeros)`, async () => {
      const gpu = await testGpu();
      const r = rng(n + C);
      const ids = Uint32Array.from({ length: n }, () => Math.floor(r() * Math.min(V, 5)));
      if (n > 3) ids[2] = V; // out of range
      const table = randn(V * C, 1);
      const dout = randn(n * C, 2);
      const d0 = randn(V * C, 3);
      const [bids, bt, bout, bdout, bd] = [await upload(gpu, ids), await upload(gpu, table), await upload(gpu, new Float32Array(n * C)), await upload(gpu, dout), await upload(gpu, d0)];
      embeddingForward(gpu, bids, bt, bout, n, C, V);
      expectClose(await gpu.readF32(bout), embeddingRef(ids, table, C, V), 0, 0, 'gather');
      embeddingBackward(gpu, bids, bdout, bd, n, C, V, 0.25);
      expectClose(await gpu.readF32(bd), embeddingBackwardRef(ids, dout, d0, C, V, 0.25), 1e-6, 1e-6, 'scatter');
      embeddingBackward(gpu, bids, bdout, bd, n, C, V, 0);
      expectClose(await gpu.readF32(bd), embeddingBackwardRef(ids, dout, d0, C, V, 0), 1e-6, 1e-6, 'scatter beta=0');
      for (const b of [bids, bt, bout, bdout, bd]) b.release();
    });
  }

  it('reference backward equals finite differences', () => {
    const ids = [0, 2, 2, 1];
    const table = Float64Array.from(randn(3 * 4, 1));
    const dout = randn(4 * 4, 2);
    const g = embeddingBackwardRef(ids, dout, new Float64Array(12), 4, 3, 0);
    checkGradient((t) => dot(embeddingRef(ids, t, 4, 3), dout), table, g, { what: 'dtable' });
  });

  it('validateTokenIds names the first bad position', () => {
    expect(() => validateTokenIds([1, 2, 9, 10], 9, 'batch ids')).toThrow('batch ids[2] = 9 is outside the vocabulary [0, 9)');
    expect(() => validateTokenIds([0, 8], 9)).not.toThrow();
  });
});
