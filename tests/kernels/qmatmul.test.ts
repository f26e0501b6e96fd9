import { describe, expect, it } from 'vitest';
import { qgemv, qmatmulBackward, qmatmulForward } from '../../src/engine/kernels/qmatmul.ts';
import { qmatmulBackwardRef, qmatmulForwardRef } from '../../src/engine/kernels/qmatmul.ref.ts';
import { releaseQuant, uploadQuant } from '../../src/engine/kernels/quant.ts';
import { QUANT_FORMATS, quantizeRows } from '../../src/engine/quant/block.ts';
import { checkGradient, dot, expectClose, randn, testGpu, upload, zeros } from '../helpers/gpu.ts';

// Quantized matmuls against the f64 plain matmul on the DEQUANTIZED weight. f32 sums of at
// most ~100 terms of size ≤ 1: atol 1e-4, rtol 1e-4.
const ATOL = 1e-4;
const RTOL = 1e-4;

// (M, N, K): K not a multiple of 32 (33, 70, 100, 140) and multiples (64, 96: the vec4
// path), odd M and N, and each dimension past one workgroup tile somewhere (fwd: 64 of M and
// N; bwd: 64 of M and 128 of K).
const SHAPES: [number, number, number][] = [[1, 1, 1], [3, 5, 33], [67, 9, 70], [5, 70, 100], [9, 66, 64], [70, 3, 96], [3, 7, 140]];

describe('qmatmul', () => {
  for (const f of QUANT_FORMATS) {
    it(`${f}: Y = X·Wqᵀ (+ beta·Y) and dX = dY·Wq (+ beta·dX) at awkward shapes, never expanding W`, async () => {
      const gpu = await testGpu();
      for (const [M, N, K] of SHAPES) {
        const w = randn(N * K, M + N + K, -1, 1);
        if (N > 2) for (let k = 0; k < K; k++) [w[k], w[K + k]] = [0, 1e-6 * w[K + k]]; // a zero row, a subnormal-f16-scale row
        const q = quantizeRows(w, N, K, f);
        const W = await uploadQuant(gpu, q, 'w');
        const x = randn(M * K, 2);
        const dy = randn(M * N, 3);
        const y0 = randn(M * N, 4);
        const dx0 = randn(M * K, 5);
        const [bx, bdy, by, bdx] = [await upload(gpu, x), await upload(gpu, dy), await upload(gpu, y0), await upload(gpu, dx0)];
        const what = `${f} ${M}x${N}x${K}`;
        const before = gpu.ledger.snapshot().live;
        qmatmulForward(gpu, bx, W, by, M);
        expectClose(await gpu.readF32(by), qmatmulForwardRef(x, q, M), ATOL, RTOL, `fwd ${what}`);
        gpu.write(by, y0);
        qmatmulForward(gpu, bx, W, by, M, 0.5);
        expectClose(await gpu.readF32(by), qmatmulForwardRef(x, q, M, 0.5, y0), ATOL, RTOL, `fwd beta ${what}`);
        qmatmulBackward(gpu, bdy, W, bdx, M, 1);
        expectClose(await gpu.readF32(bdx), qmatmulBackwardRef(dy, q, M, 1, dx0), ATOL, RTOL, `bwd beta ${what}`);
        qmatmulBackward(gpu, bdy, W, bdx, M);
        expectClose(await gpu.readF32(bdx), qmatmulBackwardRef(dy, q, M), ATOL, RTOL, `bwd ${what}`);
        // No f32 copy of W appeared (the wrappers allocate nothing; scratch is left out as the
        // runtime grows its uniform-params pool there).
        const after = gpu.ledger.snapshot().live;
        expect([after.weights, after.activations, after.gradients]).toEqual([before.weights, before.activations, before.gradients]);
        for (const b of [bx, bdy, by, bdx]) b.release();
        releaseQuant(W);
      }
    });
  }

  for (const f of QUANT_FORMATS) {
    it(`${f}: qgemv (1..8 rows of X, decoding) equals the forward reference at awkward shapes`, async () => {
      const gpu = await testGpu();
      // K not a multiple of 32 (33, 70, 100: masked units) and multiples (64, 96: gemv_k32);
      // N not a multiple of 4, and past one workgroup's 4·64 rows once.
      const shapes: [number, number, number][] = [[1, 1, 1], [1, 7, 64], [2, 5, 33], [3, 300, 96], [5, 9, 70], [8, 6, 100], [8, 13, 64]];
      for (const [i, [M, N, K]] of shapes.entries()) {
        const q = quantizeRows(randn(N * K, i + 10), N, K, f);
        const W = await uploadQuant(gpu, q, 'w');
        const x = randn(M * K, i + 20);
        const y0 = randn(M * N, i + 30);
        const [bx, by] = [await upload(gpu, x), await upload(gpu, y0)];
        const beta = i % 2 ? 0.5 : 0;
        qgemv(gpu, bx, W, by, M, beta);
        expectClose(await gpu.readF32(by), qmatmulForwardRef(x, q, M, beta, y0), ATOL, RTOL, `qgemv ${f} ${M}x${N}x${K}`);
        for (const b of [bx, by]) b.release();
        releaseQuant(W);
      }
    });
  }

  it('backward-to-input equals finite differences of the forward reference, and the GPU dX matches it', async () => {
    const gpu = await testGpu();
    for (const f of QUANT_FORMATS) {
      const [M, N, K] = [3, 4, 40];
      const q = quantizeRows(randn(N * K, 1), N, K, f);
      const x = Float64Array.from(randn(M * K, 2));
      const g = randn(M * N, 3);
      const dx = qmatmulBackwardRef(g, q, M);
      checkGradient((xx) => dot(qmatmulForwardRef(xx, q, M), g), x, dx, { what: `${f} dX` });
      const W = await uploadQuant(gpu, q, 'w');
      const [bg, bdx] = [await upload(gpu, g), await zeros(gpu, M * K)];
      qmatmulBackward(gpu, bg, W, bdx, M);
      expectClose(await gpu.readF32(bdx), dx, ATOL, RTOL, `${f} GPU dX`);
      for (const b of [bg, bdx]) b.release();
      releaseQuant(W);
    }
  });

  it('rejects buffers too small for the shape', async () => {
    const gpu = await testGpu();
    const W = await uploadQuant(gpu, quantizeRows(randn(4 * 40, 1), 4, 40, 'q4'), 'w');
    const [bx, by] = [await zeros(gpu, 2 * 40), await zeros(gpu, 3 * 4)];
    expect(() => qmatmulForward(gpu, bx, W, by, 3)).toThrow(RangeError);
    for (const b of [bx, by]) b.release();
    releaseQuant(W);
  });
});
