import { describe, expect, it } from 'vitest';
import { buildIndexList, sparseGather, sparseScatter, sparseScatterAdd } from '../../src/engine/kernels/sparse.ts';
import { gatherRef, scatterAddRef } from '../../src/engine/kernels/sparse.ref.ts';
import { expectClose, randn, rng, testGpu, upload, zeros } from '../helpers/gpu.ts';

describe('sparse gather / scatter', () => {
  it('moves only listed entries; the rest stay bit-identical', async () => {
    const gpu = await testGpu();
    const n = 10_007;
    const r = rng(9);
    const idx = buildIndexList([...new Set(Array.from({ length: 300 }, () => Math.floor(r() * n)))], n);
    const W0 = randn(n, 1);
    const vals = randn(idx.length, 2);
    const [bW, bi, bv, bg] = [await upload(gpu, W0), await upload(gpu, idx), await upload(gpu, vals), await zeros(gpu, idx.length)];
    sparseGather(gpu, bi, bW, bg, idx.length);
    expectClose(await gpu.readF32(bg), gatherRef(W0, idx), 0, 0, 'gather');
    sparseScatterAdd(gpu, bi, bv, bW, idx.length, -0.5);
    const afterAdd = await gpu.readF32(bW);
    expectClose(afterAdd, scatterAddRef(W0, idx, vals, -0.5), 1e-7, 1e-6, 'scatterAdd');
    const listed = new Set(idx);
    for (let i = 0; i < n; i++) if (!listed.has(i)) expect(afterAdd[i]).toBe(W0[i]);
    sparseScatter(gpu, bi, bv, bW, idx.length);
    expectClose(await gpu.readF32(bW), scatterAddRef(W0, idx, vals, null), 0, 0, 'scatter');
    for (const b of [bW, bi, bv, bg]) b.release();
  });

  it('buildIndexList sorts and names out-of-range or repeated entries', () => {
    expect([...buildIndexList([5, 1, 3], 6)]).toEqual([1, 3, 5]);
    expect(() => buildIndexList([1, 6], 6, 'mask of q_proj')).toThrow('mask of q_proj[1] = 6 is outside [0, 6)');
    expect(() => buildIndexList([2, 1, 2], 6)).toThrow('index 2 appears more than once');
  });
});
