import { describe, expect, it } from 'vitest';
import { Autotuner } from '../../src/engine/gpu/autotune.ts';
import { chosenMatmulVariant, matmul, MATMUL_VARIANTS, matmulVariants, type MatmulLayout, type MatmulShape, tuneMatmul } from '../../src/engine/kernels/matmul.ts';
import { matmulRef } from '../../src/engine/kernels/matmul.ref.ts';
import { checkGradient, dot, expectClose, randn, testGpu, upload } from '../helpers/gpu.ts';

// Tolerance: f32 accumulation over K <= 200 of products of values in [-1, 1]:
// |gpu - ref| <= 1e-4 + 1e-4·|ref|.
const ATOL = 1e-4;
const RTOL = 1e-4;

async function runCase(s: MatmulShape, variant: (typeof MATMUL_VARIANTS)[number], seed: number, cInit?: Float32Array) {
  const gpu = await testGpu();
  const batch = s.batch ?? 1;
  const nA = (batch - 1) * (s.strideA ?? s.M * s.K) + s.M * s.K;
  const nB = (batch - 1) * (s.strideB ?? s.K * s.N) + s.K * s.N;
  const nC = (batch - 1) * (s.strideC ?? s.M * s.N) + s.M * s.N;
  const a = randn(nA, seed);
  const b = randn(nB, seed + 1);
  const c = cInit ?? randn(nC, seed + 2);
  const [ba, bb, bc] = [await upload(gpu, a), await upload(gpu, b), await upload(gpu, c)];
  matmul(gpu, ba, bb, bc, s, variant);
  const got = await gpu.readF32(bc);
  for (const x of [ba, bb, bc]) x.release();
  return { got, want: matmulRef(a, b, c, s) };
}

describe('matmul', () => {
  const shapes: [number, number, number][] = [
    [1, 1, 1],
    [3, 5, 7],
    [17, 33, 65],
    [65, 130, 33],
    [70, 3, 129],
    [130, 17, 200],
  ];
  for (const variant of MATMUL_VARIANTS) {
    for (const layout of ['NT', 'NN', 'TN'] as MatmulLayout[]) {
      it(`${variant} ${layout} at awkward shapes`, async () => {
        for (const [M, N, K] of shapes) {
          const { got, want } = await runCase({ layout, M, N, K }, variant, M * 7 + N);
          expectClose(got, want, ATOL, RTOL, `${variant} ${layout} ${M}x${N}x${K}`);
        }
      });
    }
    it(`${variant} batched, broadcast weights (stride 0), alpha/beta`, async () => {
      const s: MatmulShape = { layout: 'NT', M: 9, N: 37, K: 21, batch: 3, strideB: 0, alpha: 0.5, beta: -1.5 };
      const { got, want } = await runCase(s, variant, 11);
      expectClose(got, want, ATOL, RTOL, `${variant} batched`);
      // Shared input (stride 0 on A), padded batch strides on B and C.
      const nn: MatmulShape = { layout: 'NN', M: 18, N: 5, K: 7, batch: 2, strideA: 0, strideB: 40, strideC: 93, alpha: -2, beta: 0.25 };
      const r1 = await runCase(nn, variant, 14);
      expectClose(r1.got, r1.want, ATOL, RTOL, `${variant} batched NN`);
      const tn: MatmulShape = { layout: 'TN', M: 33, N: 6, K: 5, batch: 2, beta: 1 };
      const r2 = await runCase(tn, variant, 12);
      expectClose(r2.got, r2.want, ATOL, RTOL, `${variant} batched TN`);
    });
    it(`${variant} with beta = 0 never reads C (NaN there is overwritten)`, async () => {
      const s: MatmulShape = { layout: 'NN', M: 10, N: 11, K: 12 };
      const { got, want } = await runCase(s, variant, 13, new Float32Array(110).fill(NaN));
      expectClose(got, want, ATOL, RTOL, `${variant} beta=0`);
      const t: MatmulShape = { layout: 'TN', M: 19, N: 3, K: 6, batch: 2, alpha: 3 };
      const r2 = await runCase(t, variant, 15, new Float32Array(2 * 19 * 3).fill(NaN));
      expectClose(r2.got, r2.want, ATOL, RTOL, `${variant} beta=0 TN`);
    });
  }

  it('the reference backward layouts are the gradients of the forward (finite differences)', () => {
    // L = sum(G ⊙ X·Wᵀ): dL/dX = G·W (NN), dL/dW = Gᵀ·X (TN).
    const [M, N, K] = [4, 3, 5];
    const x = Float64Array.from(randn(M * K, 1));
    const w = Float64Array.from(randn(N * K, 2));
    const g = randn(M * N, 3);
    const fwd = (xx: ArrayLike<number>, ww: ArrayLike<number>) => matmulRef(xx, ww, new Float64Array(M * N), { layout: 'NT', M, N, K });
    const dx = matmulRef(g, w, new Float64Array(M * K), { layout: 'NN', M, N: K, K: N });
    const dw = matmulRef(g, x, new Float64Array(N * K), { layout: 'TN', M: N, N: K, K: M });
    checkGradient((xx) => dot(fwd(xx, w), g), x, dx, { what: 'dX' });
    checkGradient((ww) => dot(fwd(x, ww), g), w, dw, { what: 'dW' });
  });

  it('autotune picks a variant, makes it the default, and caches it', async () => {
    const gpu = await testGpu();
    const tuner = new Autotuner(gpu);
    const r = await tuneMatmul(gpu, tuner, 64);
    expect(matmulVariants(gpu)).toContain(r.chosen);
    expect(r.measurements.map((x) => x.variant).sort()).toEqual(matmulVariants(gpu).sort());
    expect(chosenMatmulVariant(gpu)).toBe(r.chosen);
    expect((await tuneMatmul(gpu, tuner, 64)).cached).toBe(true);
  });

  it('refuses buffers too small for the shape', async () => {
    const gpu = await testGpu();
    const small = await upload(gpu, new Float32Array(4));
    expect(() => matmul(gpu, small, small, small, { layout: 'NT', M: 3, N: 3, K: 3 })).toThrow(/a needs 9 floats/);
    small.release();
  });
});
