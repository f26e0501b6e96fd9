import { describe, expect, it } from 'vitest';
import { axpby, biasAdd, copy2d, fill, mul, scale } from '../../src/engine/kernels/elementwise.ts';
import { axpbyRef, biasAddRef, copy2dRef, mulRef } from '../../src/engine/kernels/elementwise.ref.ts';
import { expectClose, randn, testGpu, upload } from '../helpers/gpu.ts';

describe('elementwise', () => {
  // Exact in f32 up to one rounding: atol 1e-6, rtol 1e-6.
  for (const n of [1, 257, 1000]) {
    it(`axpby / mul / scale / fill at n=${n}`, async () => {
      const gpu = await testGpu();
      const x = randn(n, 1);
      const y = randn(n, 2);
      const bx = await upload(gpu, x);
      const by = await upload(gpu, y);
      axpby(gpu, bx, by, n, 0.5, -2);
      expectClose(await gpu.readF32(by), axpbyRef(x, y, 0.5, -2), 1e-6, 1e-6, 'axpby');
      const y2 = axpbyRef(x, y, 0.5, -2);
      mul(gpu, bx, by, n);
      expectClose(await gpu.readF32(by), mulRef(x, y2), 1e-6, 1e-6, 'mul');
      scale(gpu, by, n, 0);
      fill(gpu, bx, n, 3.5);
      expect([...(await gpu.readF32(by))].every((v) => v === 0)).toBe(true);
      expect([...(await gpu.readF32(bx))].every((v) => v === 3.5)).toBe(true);
      bx.release();
      by.release();
    });
  }

  it('bias_add adds a row vector to every row', async () => {
    const gpu = await testGpu();
    const [rows, cols] = [7, 13];
    const b = randn(cols, 4);
    const y = randn(rows * cols, 5);
    const [bb, by] = [await upload(gpu, b), await upload(gpu, y)];
    biasAdd(gpu, bb, by, rows, cols);
    expectClose(await gpu.readF32(by), biasAddRef(b, y, cols), 1e-6, 1e-6, 'bias_add');
    bb.release();
    by.release();
  });

  it('copy2d splits a column slice out of a fused matrix and merges it back', async () => {
    const gpu = await testGpu();
    const [rows, C] = [5, 7];
    const qkv = randn(rows * 3 * C, 6);
    const k = new Float32Array(rows * C);
    const [bqkv, bk] = [await upload(gpu, qkv), await upload(gpu, k)];
    const split = { rows, cols: C, srcStride: 3 * C, srcOff: C, dstStride: C, dstOff: 0 };
    copy2d(gpu, bqkv, bk, split);
    const want = copy2dRef(qkv, k, split);
    expectClose(await gpu.readF32(bk), want, 0, 0, 'split');
    const merged = await upload(gpu, new Float32Array(rows * 3 * C));
    const merge = { rows, cols: C, srcStride: C, srcOff: 0, dstStride: 3 * C, dstOff: 2 * C };
    copy2d(gpu, bk, merged, merge);
    expectClose(await gpu.readF32(merged), copy2dRef(want, new Float32Array(rows * 3 * C), merge), 0, 0, 'merge');
    for (const b of [bqkv, bk, merged]) b.release();
  });

  it('axpby with beta = 0 ignores NaN in y', async () => {
    const gpu = await testGpu();
    const x = randn(33, 3);
    const bx = await upload(gpu, x);
    const by = await upload(gpu, new Float32Array(33).fill(NaN));
    axpby(gpu, bx, by, 33, 2, 0);
    expectClose(await gpu.readF32(by), axpbyRef(x, x, 2, 0), 1e-6, 1e-6, 'axpby beta=0');
  });

  it('folds big grids into two dimensions', async () => {
    const gpu = await testGpu();
    const n = 65535 * 256 + 1000; // one dimension of workgroups is not enough
    const by = await gpu.arena.alloc('scratch', n * 4, 'big');
    fill(gpu, by, n, 1.25);
    const tail = new Float32Array(await gpu.read(by, 4000, (n - 1000) * 4));
    expect([...tail].every((v) => v === 1.25)).toBe(true);
    by.release();
  });
});
