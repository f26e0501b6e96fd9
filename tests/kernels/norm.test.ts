import { describe, expect, it } from 'vitest';
import { Autotuner } from '../../src/engine/gpu/autotune.ts';
import { chosenNormVariant, layerNormBackward, layerNormForward, NORM_VARIANTS, rmsNormBackward, rmsNormForward, tuneNorm } from '../../src/engine/kernels/norm.ts';
import { layerNormBackwardRef, layerNormRef, rmsNormBackwardRef, rmsNormRef } from '../../src/engine/kernels/norm.ref.ts';
import { checkGradient, dot, expectClose, randn, testGpu, upload, zeros } from '../helpers/gpu.ts';

// Tolerances |gpu − ref| <= atol + rtol·|ref|:
//   y, rstd, dx, dw, db: atol 1e-5, rtol 1e-4 (f32 sums of at most 130 O(1) terms per row and
//   70 per column). LayerNorm dx, dw: atol 1e-4, because at C = 1 x̂ is exactly 0 in f64 but
//   x − mean rounds to a tiny nonzero in f32 and is scaled by rstd = 1/√eps ≈ 316.
// Shapes: C = 1, 7, 67, 130 (130 > the 64 threads per row of 'wg'); rows = 1, 5, 33, 70
// (70 > the 64 rows per workgroup of 'row'); the dw kernels see C > 32 columns per workgroup
// and rows > 8 row lanes.
const ATOL = 1e-5;
const RTOL = 1e-4;
const SHAPES: [number, number][] = [[1, 1], [5, 7], [33, 67], [70, 130], [1, 130]];
const EPS = 1e-5;

describe.each(NORM_VARIANTS)('RMSNorm, variant %s', (variant) => {
  it('forward and backward match the reference at awkward shapes (dw accumulates with beta)', async () => {
    const gpu = await testGpu();
    for (const [rows, C] of SHAPES) {
      const x = randn(rows * C, rows + C, -2, 2);
      const w = randn(C, 3 * C);
      const dy = randn(rows * C, 7 * C);
      const dw0 = randn(C, 11);
      const [bx, bw, bdy] = [await upload(gpu, x), await upload(gpu, w), await upload(gpu, dy)];
      const [by, brs, bdx, bdw] = [await zeros(gpu, rows * C), await zeros(gpu, rows), await zeros(gpu, rows * C), await upload(gpu, dw0)];
      const bdw0 = await upload(gpu, new Float32Array(C).fill(NaN)); // beta = 0 must not read it
      rmsNormForward(gpu, bx, bw, by, brs, rows, C, EPS, variant);
      const ref = rmsNormRef(x, w, rows, C, EPS);
      expectClose(await gpu.readF32(by), ref.y, ATOL, RTOL, `y ${rows}x${C}`);
      expectClose(await gpu.readF32(brs), ref.rstd, ATOL, RTOL, `rstd ${rows}x${C}`);
      const g = rmsNormBackwardRef(dy, x, w, rows, C, EPS);
      rmsNormBackward(gpu, bdy, bx, bw, brs, bdx, bdw, rows, C, 0.5, variant);
      expectClose(await gpu.readF32(bdx), g.dx, ATOL, RTOL, `dx ${rows}x${C}`);
      expectClose(await gpu.readF32(bdw), g.dw.map((v, i) => v + 0.5 * dw0[i]), ATOL, RTOL, `dw beta=0.5 ${rows}x${C}`);
      rmsNormBackward(gpu, bdy, bx, bw, brs, bdx, bdw0, rows, C, 0, variant);
      expectClose(await gpu.readF32(bdw0), g.dw, ATOL, RTOL, `dw beta=0 ${rows}x${C}`);
      for (const b of [bx, bw, bdy, by, brs, bdx, bdw, bdw0]) b.release();
    }
  });
});

describe.each(NORM_VARIANTS)('LayerNorm, variant %s', (variant) => {
  it('forward and backward match the reference at awkward shapes (dw, db accumulate with beta)', async () => {
    const gpu = await testGpu();
    for (const [rows, C] of SHAPES) {
      const x = randn(rows * C, rows + C, -2, 2);
      for (let i = 0; i < x.length; i++) x[i] += 3; // an offset the centring must remove
      const w = randn(C, 3 * C);
      const b = randn(C, 5 * C);
      const dy = randn(rows * C, 7 * C);
      const [dw0, db0] = [randn(C, 13), randn(C, 17)];
      const [bx, bw, bb, bdy] = [await upload(gpu, x), await upload(gpu, w), await upload(gpu, b), await upload(gpu, dy)];
      const [by, bm, brs, bdx, bdw, bdb] = [
        await zeros(gpu, rows * C), await zeros(gpu, rows), await zeros(gpu, rows), await zeros(gpu, rows * C), await upload(gpu, dw0), await upload(gpu, db0),
      ];
      layerNormForward(gpu, bx, bw, bb, by, bm, brs, rows, C, EPS, variant);
      const ref = layerNormRef(x, w, b, rows, C, EPS);
      expectClose(await gpu.readF32(by), ref.y, ATOL, RTOL, `y ${rows}x${C}`);
      expectClose(await gpu.readF32(bm), ref.mean, ATOL, RTOL, `mean ${rows}x${C}`);
      expectClose(await gpu.readF32(brs), ref.rstd, ATOL, RTOL, `rstd ${rows}x${C}`);
      layerNormBackward(gpu, bdy, bx, bw, bm, brs, bdx, bdw, bdb, rows, C, 2, variant);
      const g = layerNormBackwardRef(dy, x, w, rows, C, EPS);
      expectClose(await gpu.readF32(bdx), g.dx, 1e-4, RTOL, `dx ${rows}x${C}`);
      expectClose(await gpu.readF32(bdw), g.dw.map((v, i) => v + 2 * dw0[i]), 1e-4, RTOL, `dw ${rows}x${C}`);
      expectClose(await gpu.readF32(bdb), g.db.map((v, i) => v + 2 * db0[i]), ATOL, RTOL, `db ${rows}x${C}`);
      for (const t of [bx, bw, bb, bdy, by, bm, brs, bdx, bdw, bdb]) t.release();
    }
  });
});

describe('norm references', () => {
  it('RMSNorm backward equals finite differences', () => {
    for (const [rows, C] of [[3, 5], [2, 1]]) {
      const x = Float64Array.from(randn(rows * C, 1));
      const w = Float64Array.from(randn(C, 2));
      const dy = randn(rows * C, 3);
      const g = rmsNormBackwardRef(dy, x, w, rows, C, EPS);
      checkGradient((xx) => dot(rmsNormRef(xx, w, rows, C, EPS).y, dy), x, g.dx, { what: `rms dx ${rows}x${C}` });
      checkGradient((ww) => dot(rmsNormRef(x, ww, rows, C, EPS).y, dy), w, g.dw, { what: `rms dw ${rows}x${C}` });
    }
  });

  it.each([[3, 6], [2, 1]])('LayerNorm backward equals finite differences (rows=%i, C=%i)', (rows, C) => {
    const x = Float64Array.from(randn(rows * C, 1));
    const w = Float64Array.from(randn(C, 2));
    const b = Float64Array.from(randn(C, 4));
    const dy = randn(rows * C, 3);
    const g = layerNormBackwardRef(dy, x, w, rows, C, EPS);
    checkGradient((xx) => dot(layerNormRef(xx, w, b, rows, C, EPS).y, dy), x, g.dx, { what: `ln dx ${rows}x${C}` });
    checkGradient((ww) => dot(layerNormRef(x, ww, b, rows, C, EPS).y, dy), w, g.dw, { what: `ln dw ${rows}x${C}` });
    checkGradient((bb) => dot(layerNormRef(x, w, bb, rows, C, EPS).y, dy), b, g.db, { what: `ln db ${rows}x${C}` });
  });
});

describe('norm autotune', () => {
  it('measures both variants, makes the faster the default and caches the choice', async () => {
    const gpu = await testGpu();
    const tuner = new Autotuner(gpu);
    const r = await tuneNorm(gpu, tuner, 33, 67);
    expect(r.measurements.map((m) => m.variant)).toEqual([...NORM_VARIANTS]);
    expect(chosenNormVariant(gpu)).toBe(r.chosen);
    expect((await tuneNorm(gpu, tuner, 33, 67)).cached).toBe(true);
  });
});
