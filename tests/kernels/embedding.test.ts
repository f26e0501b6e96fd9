import { describe, expect, it } from 'vitest';
import { embeddingBackward, embeddingForward, TokenIdError, validateTokenIds } from '../../src/engine/kernels/embedding.ts';
import { embeddingBackwardRef, embeddingRef } from '../../src/engine/kernels/embedding.ref.ts';
import { checkGradient, dot, expectClose, randn, rng, testGpu, upload } from '../helpers/gpu.ts';

// Gather copies exactly: atol 0, rtol 0. The scatter-add sums at most n values per entry
// in token order: atol 1e-6, rtol 1e-6 (f32 rounding of a few additions).
// Shapes: C = 1, 7, 67, 5, 130, 300 (300 > the 256 threads of a scatter workgroup), V = 1, 37, 300;
// n·C and V·C beyond one workgroup; repeated ids; an id >= V (zeros forward, skipped backward).
describe('embedding', () => {
  for (const [n, C, V] of [[1, 1, 1], [33, 7, 37], [7, 67, 37], [33, 130, 300], [300, 5, 300], [5, 300, 37]] as const) {
    it(`gather and scatter-add at n=${n} C=${C} V=${V}, beta 0.25 / 1 / 0`, async () => {
      const gpu = await testGpu();
      const r = rng(n + C);
      const ids = Uint32Array.from({ length: n }, () => Math.floor(r() * Math.min(V, 5)));
      if (n > 3) ids[2] = V; // out of range
      const table = randn(V * C, 1);
      const dout = randn(n * C, 2);
      const d0 = randn(V * C, 3);
      const [bids, bt, bout, bdout, bd] = [await upload(gpu, ids), await upload(gpu, table), await upload(gpu, new Float32Array(n * C).fill(NaN)), await upload(gpu, dout), await upload(gpu, d0)];
      embeddingForward(gpu, bids, bt, bout, n, C, V);
      expectClose(await gpu.readF32(bout), embeddingRef(ids, table, C, V), 0, 0, 'gather');
      embeddingBackward(gpu, bids, bdout, bd, n, C, V, 0.25);
      const d1 = embeddingBackwardRef(ids, dout, d0, C, V, 0.25);
      expectClose(await gpu.readF32(bd), d1, 1e-6, 1e-6, 'scatter beta=0.25');
      embeddingBackward(gpu, bids, bdout, bd, n, C, V, 1);
      expectClose(await gpu.readF32(bd), embeddingBackwardRef(ids, dout, d1, C, V, 1), 1e-6, 1e-6, 'scatter beta=1');
      gpu.write(bd, new Float32Array(V * C).fill(NaN)); // beta = 0 must not read dtable
      embeddingBackward(gpu, bids, bdout, bd, n, C, V, 0);
      expectClose(await gpu.readF32(bd), embeddingBackwardRef(ids, dout, d0, C, V, 0), 1e-6, 1e-6, 'scatter beta=0');
      for (const b of [bids, bt, bout, bdout, bd]) b.release();
    });
  }

  it('reference backward equals finite differences', () => {
    const ids = [0, 2, 2, 1, 2];
    const [C, V] = [4, 3];
    const table = Float64Array.from(randn(V * C, 1));
    const dout = randn(ids.length * C, 2);
    const g = embeddingBackwardRef(ids, dout, new Float64Array(V * C), C, V, 0);
    checkGradient((t) => dot(embeddingRef(ids, t, C, V), dout), table, g, { indices: [...Array(V * C).keys()], what: 'dtable' });
  });

  it('validateTokenIds names the first bad position', () => {
    expect(() => validateTokenIds([1, 2, 9, 10], 9, 'batch ids')).toThrow('batch ids[2] = 9 is outside the vocabulary [0, 9)');
    expect(() => validateTokenIds([0, -1], 9)).toThrow(TokenIdError);
    expect(() => validateTokenIds([0, 1.5], 9)).toThrow('token ids[1] = 1.5');
    expect(() => validateTokenIds([0, 8], 9)).not.toThrow();
  });

  it('wrappers reject buffers smaller than the shape', async () => {
    const gpu = await testGpu();
    const [ids, table, out] = [await upload(gpu, new Uint32Array(2)), await upload(gpu, new Float32Array(12)), await upload(gpu, new Float32Array(7))];
    expect(() => embeddingForward(gpu, ids, table, out, 2, 4, 3)).toThrow(RangeError);
    for (const b of [ids, table, out]) b.release();
  });
});
