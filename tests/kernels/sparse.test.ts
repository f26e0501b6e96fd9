import { describe, expect, it } from 'vitest';
import { buildIndexList, SparseIndexError, sparseGather, sparseScatter, sparseScatterAdd } from '../../src/engine/kernels/sparse.ts';
import { gatherRef, scatterAddRef, scatterRef } from '../../src/engine/kernels/sparse.ref.ts';
import { expectClose, randn, rng, testGpu, upload, zeros } from '../helpers/gpu.ts';

// gather / scatter copy values: exact. scatterAdd is one f32 multiply-add: atol 1e-7, rtol 1e-6.

/** Indices of `after` that differ from `before` in their bits (NaN-safe, −0 ≠ +0). */
function changedBits(before: Float32Array, after: Float32Array): number[] {
  const [a, b] = [new Uint32Array(before.buffer, before.byteOffset, before.length), new Uint32Array(after.buffer, after.byteOffset, after.length)];
  const out: number[] = [];
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) out.push(i);
  return out;
}

describe('sparse gather / scatter', () => {
  it('moves only listed entries (first and last included); the rest stay bit-identical', async () => {
    const gpu = await testGpu();
    const n = 10_007;
    const r = rng(9);
    const idx = buildIndexList([0, n - 1, ...new Set(Array.from({ length: 400 }, () => 1 + Math.floor(r() * (n - 2))))], n);
    expect(idx.length).toBeGreaterThan(256); // more than one workgroup
    const W0 = randn(n, 1);
    W0[5] = -0; // a signed zero and a NaN outside the list must survive bit for bit
    W0[6] = NaN;
    const vals = randn(idx.length, 2);
    const listed = new Set(idx);
    const [bW, bi, bv, bg] = [await upload(gpu, W0), await upload(gpu, idx), await upload(gpu, vals), await zeros(gpu, idx.length)];

    sparseGather(gpu, bi, bW, bg, idx.length);
    expectClose(await gpu.readF32(bg), gatherRef(W0, idx), 0, 0, 'gather');

    sparseScatterAdd(gpu, bi, bv, bW, idx.length, -0.5);
    const afterAdd = await gpu.readF32(bW);
    expectClose(afterAdd.filter((_, i) => listed.has(i)), gatherRef(scatterAddRef(W0, idx, vals, -0.5), idx), 1e-7, 1e-6, 'scatterAdd');
    expect(changedBits(W0, afterAdd).every((i) => listed.has(i))).toBe(true);

    sparseScatter(gpu, bi, bv, bW, idx.length);
    const afterSet = await gpu.readF32(bW);
    expectClose(afterSet.filter((_, i) => listed.has(i)), gatherRef(scatterRef(W0, idx, vals), idx), 0, 0, 'scatter');
    expect(changedBits(W0, afterSet).every((i) => listed.has(i))).toBe(true);
    expect(Object.is(afterSet[5], -0) && Number.isNaN(afterSet[6])).toBe(true);
    for (const b of [bW, bi, bv, bg]) b.release();
  });

  it('a gather → update → scatter round trip leaves W equal to the dense reference', async () => {
    const gpu = await testGpu();
    const n = 999;
    const idx = buildIndexList(Array.from({ length: 37 }, (_, j) => (j * 26 + 11) % n), n);
    const W0 = randn(n, 3);
    const [bW, bi, bv] = [await upload(gpu, W0), await upload(gpu, idx), await zeros(gpu, idx.length)];
    sparseGather(gpu, bi, bW, bv, idx.length);
    sparseScatter(gpu, bi, bv, bW, idx.length); // writing back what was read changes nothing
    expect(changedBits(W0, await gpu.readF32(bW))).toEqual([]);
    sparseScatterAdd(gpu, bi, bv, bW, 0, 1); // k = 0 is a no-op
    expect(changedBits(W0, await gpu.readF32(bW))).toEqual([]);
    for (const b of [bW, bi, bv]) b.release();
  });

  it('buildIndexList sorts and names out-of-range, fractional or repeated entries', () => {
    expect([...buildIndexList([5, 1, 3], 6)]).toEqual([1, 3, 5]);
    expect([...buildIndexList([], 0)]).toEqual([]);
    expect([...buildIndexList([2 ** 32 - 1, 0], 2 ** 32)]).toEqual([0, 2 ** 32 - 1]);
    expect(() => buildIndexList([1, 6], 6, 'mask of q_proj')).toThrow('mask of q_proj[1] = 6 is outside [0, 6)');
    expect(() => buildIndexList([-1], 6)).toThrow('indices[0] = -1 is outside [0, 6)');
    expect(() => buildIndexList([1.5], 6)).toThrow(SparseIndexError);
    expect(() => buildIndexList([2, 1, 2], 6)).toThrow('index 2 appears more than once');
  });

  it('checks buffer sizes', async () => {
    const gpu = await testGpu();
    const b = await zeros(gpu, 4);
    expect(() => sparseGather(gpu, b, b, b, 5)).toThrow(/idx needs 5 values/);
    b.release();
  });
});
