import { describe, it } from 'vitest';
import { layerNormBackward, layerNormForward, rmsNormBackward, rmsNormForward } from '../../src/engine/kernels/norm.ts';
import { layerNormBackwardRef, layerNormRef, rmsNormBackwardRef, rmsNormRef } from '../../src/engine/kernels/norm.ref.ts';
import { checkGradient, dot, expectClose, randn, testGpu, upload, zeros } from '../helpers/gpu.ts';

// f32 sums over C <= 130 of O(1) terms: atol 1e-5, rtol 1e-4.
const ATOL = 1e-5;
const RTOL = 1e-4;
const SHAPES: [number, number][] = [[1, 1], [5, 7], [33, 67], [70, 130]];
const EPS = 1e-5;

describe('RMSNorm', () => {
  it('forward and backward match the reference at awkward shapes (dw accumulates with beta)', async () => {
    const gpu = await testGpu();
    for (const [rows, C] of SHAPES) {
      const x = randn(rows * C, rows + C, -2, 2);
      const w = randn(C, 3 * C);
      const dy = randn(rows * C, 7 * C);
      const dw0 = randn(C, 11);
      const [bx, bw, bdy] = [await upload(gpu, x), await upload(gpu, w), await upload(gpu, dy)];
      const [by, brs, bdx, bdw] = [await zeros(gpu, rows * C), await zeros(gpu, rows), await zeros(gpu, rows * C), await upload(gpu, dw0)];
      rmsNormForward(gpu, bx, bw, by, brs, rows, C, EPS);
      const ref = rmsNormRef(x, w, rows, C, EPS);
      expectClose(await gpu.readF32(by), ref.y, ATOL, RTOL, `y ${rows}x${C}`);
      expectClose(await gpu.readF32(brs), ref.rstd, ATOL, RTOL, `rstd ${rows}x${C}`);
      rmsNormBackward(gpu, bdy, bx, bw, brs, bdx, bdw, rows, C, 0.5);
      const g = rmsNormBackwardRef(dy, x, w, rows, C, EPS);
      expectClose(await gpu.readF32(bdx), g.dx, ATOL, RTOL, `dx ${rows}x${C}`);
      expectClose(await gpu.readF32(bdw), g.dw.map((v, i) => v + 0.5 * dw0[i]), ATOL, RTOL, `dw ${rows}x${C}`);
      for (const b of [bx, bw, bdy, by, brs, bdx, bdw]) b.release();
    }
  });

  it('reference backward equals finite differences', () => {
    const [rows, C] = [3, 5];
    const x = Float64Array.from(randn(rows * C, 1));
    const w = Float64Array.from(randn(C, 2));
    const dy = randn(rows * C, 3);
    const g = rmsNormBackwardRef(dy, x, w, rows, C, EPS);
    checkGradient((xx) => dot(rmsNormRef(xx, w, rows, C, EPS).y, dy), x, g.dx, { what: 'rms dx' });
    checkGradient((ww) => dot(rmsNormRef(x, ww, rows, C, EPS).y, dy), w, g.dw, { what: 'rms dw' });
  });
});

describe('LayerNorm', () => {
  it('forward and backward match the reference at awkward shapes', async () => {
    const gpu = await testGpu();
    for (const [rows, C] of SHAPES) {
      const x = randn(rows * C, rows + C, -2, 2);
      const w = randn(C, 3 * C);
      const b = randn(C, 5 * C);
      const dy = randn(rows * C, 7 * C);
      const [bx, bw, bb, bdy] = [await upload(gpu, x), await upload(gpu, w), await upload(gpu, b), await upload(gpu, dy)];
      const [by, bm, brs, bdx, bdw, bdb] = [
        await zeros(gpu, rows * C), await zeros(gpu, rows), await zeros(gpu, rows), await zeros(gpu, rows * C), await zeros(gpu, C), await zeros(gpu, C),
      ];
      layerNormForward(gpu, bx, bw, bb, by, bm, brs, rows, C, EPS);
      const ref = layerNormRef(x, w, b, rows, C, EPS);
      expectClose(await gpu.readF32(by), ref.y, ATOL, RTOL, `y ${rows}x${C}`);
      layerNormBackward(gpu, bdy, bx, bw, bm, brs, bdx, bdw, bdb, rows, C);
      const g = layerNormBackwardRef(dy, x, w, rows, C, EPS);
      // C = 1: x̂ = 0 exactly in f64 but (x − mean) rounds in f32; absolute error stays tiny.
      expectClose(await gpu.readF32(bdx), g.dx, 1e-4, RTOL, `dx ${rows}x${C}`);
      expectClose(await gpu.readF32(bdw), g.dw, 1e-4, RTOL, `dw ${rows}x${C}`);
      expectClose(await gpu.readF32(bdb), g.db, ATOL, RTOL, `db ${rows}x${C}`);
      for (const t of [bx, bw, bb, bdy, by, bm, brs, bdx, bdw, bdb]) t.release();
    }
  });

  it('reference backward equals finite differences', () => {
    const [rows, C] = [3, 6];
    const x = Float64Array.from(randn(rows * C, 1));
    const w = Float64Array.from(randn(C, 2));
    const b = Float64Array.from(randn(C, 4));
    const dy = randn(rows * C, 3);
    const g = layerNormBackwardRef(dy, x, w, rows, C, EPS);
    checkGradient((xx) => dot(layerNormRef(xx, w, b, rows, C, EPS).y, dy), x, g.dx, { what: 'ln dx' });
    checkGradient((ww) => dot(layerNormRef(x, ww, b, rows, C, EPS).y, dy), w, g.dw, { what: 'ln dw' });
    checkGradient((bb) => dot(layerNormRef(x, w, bb, rows, C, EPS).y, dy), b, g.db, { what: 'ln db' });
  });
});
