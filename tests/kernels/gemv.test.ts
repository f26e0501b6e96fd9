import { describe, expect, it } from 'vitest';
import { Autotuner } from '../../src/engine/gpu/autotune.ts';
import { chosenGemvVariant, gemv, gemvVariants, tuneGemv, type GemvShape, type GemvVariant } from '../../src/engine/kernels/gemv.ts';
import { gemvRef } from '../../src/engine/kernels/gemv.ref.ts';
import { expectClose, randn, testGpu, upload } from '../helpers/gpu.ts';

// f32 sums of at most ~300 products of values in [-1, 1]: atol 1e-4, rtol 1e-4.
const ATOL = 1e-4;
const RTOL = 1e-4;

// (M, N, K): every M from 1 to 8; K and N odd / not multiples of 4 (the scalar entry points
// and masked tails) and multiples (the vec4 ones); N past one workgroup's 4·64 rows once.
const SHAPES: [number, number, number][] = [[1, 1, 1], [1, 7, 9], [2, 33, 64], [3, 65, 31], [4, 13, 100], [5, 600, 12], [6, 5, 301], [7, 40, 36], [8, 19, 67], [8, 64, 128]];

async function check(s: GemvShape, variant: GemvVariant | undefined, seed: number) {
  const gpu = await testGpu();
  const x = randn(s.M * s.K, seed);
  const w = randn(s.N * s.K, seed + 1);
  const y0 = randn(s.M * s.N, seed + 2);
  const [bx, bw, by] = [await upload(gpu, x), await upload(gpu, w), await upload(gpu, y0)];
  gemv(gpu, bx, bw, by, s, variant);
  expectClose(await gpu.readF32(by), gemvRef(x, w, s, y0), ATOL, RTOL, `${s.layout} ${variant ?? ''} ${s.M}x${s.N}x${s.K} beta ${s.beta ?? 0}`);
  for (const b of [bx, bw, by]) b.release();
}

describe('gemv', () => {
  it('NT row: Y = X·Wᵀ (+ beta·Y) for 1..8 rows of X at awkward shapes', async () => {
    for (const [i, [M, N, K]] of SHAPES.entries()) await check({ layout: 'NT', M, N, K, beta: i % 2 ? 0.5 : 0 }, 'row', i * 3);
  });
  // The split-K variants are for real GPUs; on SwiftShader each pipeline takes ~15 s to build
  // (workgroup barriers), so one pipeline (3 rows of X: several accumulators and outputs per
  // workgroup) at small, awkward shapes; split128 differs only in its WG override.
  it('NT split64 (split-K over a workgroup): the same products', async () => {
    await check({ layout: 'NT', M: 3, N: 9, K: 620, beta: 0 }, 'split64', 7);
    await check({ layout: 'NT', M: 3, N: 6, K: 44, beta: 0.5 }, 'split64', 9);
    await check({ layout: 'NT', M: 3, N: 5, K: 7, beta: 0 }, 'split64', 10); // K % 4 != 0: falls back to row
  }, 120_000);
  it('NN (a Conv1D weight stored (K, N)): Y = X·W (+ beta·Y) at awkward shapes', async () => {
    for (const [i, [M, N, K]] of SHAPES.entries()) await check({ layout: 'NN', M, N, K, beta: i % 2 ? 0 : -1 }, undefined, i * 5);
  });
  it('rejects more than 8 rows and buffers too small for the shape', async () => {
    const gpu = await testGpu();
    const [a, b] = [await upload(gpu, randn(9 * 4, 1)), await upload(gpu, randn(16, 2))];
    expect(() => gemv(gpu, a, b, a, { layout: 'NT', M: 9, N: 4, K: 4 })).toThrow(RangeError);
    expect(() => gemv(gpu, a, b, a, { layout: 'NT', M: 1, N: 5, K: 4 })).toThrow(RangeError);
    a.release();
    b.release();
  });
  it("the autotune measures this adapter's variants (only 'row' on a CPU adapter) and gemv then uses the choice", async () => {
    const gpu = await testGpu();
    const r = await tuneGemv(gpu, new Autotuner(gpu), 96, 40);
    expect(r.measurements.map((m) => m.variant)).toEqual(gemvVariants(gpu));
    if (gpu.adapter.isFallbackAdapter) expect(gemvVariants(gpu)).toEqual(['row']);
    expect(chosenGemvVariant(gpu)).toBe(r.chosen);
    await check({ layout: 'NT', M: 3, N: 70, K: 44 }, undefined, 99);
  });
});
