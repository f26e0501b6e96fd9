import { describe, it } from 'vitest';
import { attentionBackward, attentionForward, type AttentionShape } from '../../src/engine/kernels/attention.ts';
import { attentionBackwardRef, attentionRef } from '../../src/engine/kernels/attention.ref.ts';
import { checkGradient, dot, expectClose, randn, testGpu, upload, zeros } from '../helpers/gpu.ts';

// f32 dot products over D <= 12 and softmax over Tk <= 37 keys: atol 2e-5, rtol 1e-4.
const ATOL = 2e-5;
const RTOL = 1e-4;

const shapes: AttentionShape[] = [
  { B: 1, T: 1, Tk: 1, Hq: 1, Hkv: 1, D: 8 },
  { B: 2, T: 5, Tk: 5, Hq: 4, Hkv: 2, D: 8 },
  { B: 1, T: 37, Tk: 37, Hq: 3, Hkv: 1, D: 12 },
  { B: 2, T: 3, Tk: 11, Hq: 2, Hkv: 2, D: 12 }, // queries after 8 cached keys
  { B: 1, T: 1, Tk: 9, Hq: 4, Hkv: 2, D: 8, scale: 0.3 }, // one generated token
];

describe('causal GQA attention', () => {
  for (const s of shapes) {
    it(`forward and backward at ${JSON.stringify(s)}`, async () => {
      const gpu = await testGpu();
      const nq = s.B * s.T * s.Hq * s.D;
      const nk = s.B * s.Tk * s.Hkv * s.D;
      const q = randn(nq, 1, -2, 2);
      const k = randn(nk, 2, -2, 2);
      const v = randn(nk, 3);
      const dO = randn(nq, 4);
      const [bq, bk, bv, bdO] = [await upload(gpu, q), await upload(gpu, k), await upload(gpu, v), await upload(gpu, dO)];
      const [bo, blse, bd, bdq, bdk, bdv] = [
        await zeros(gpu, nq), await zeros(gpu, s.B * s.Hq * s.T), await zeros(gpu, s.B * s.Hq * s.T),
        await zeros(gpu, nq), await zeros(gpu, nk), await zeros(gpu, nk),
      ];
      attentionForward(gpu, bq, bk, bv, bo, blse, s);
      const ref = attentionRef(q, k, v, s);
      expectClose(await gpu.readF32(bo), ref.o, ATOL, RTOL, 'O');
      expectClose(await gpu.readF32(blse), ref.lse, ATOL, RTOL, 'LSE');
      attentionBackward(gpu, bq, bk, bv, bo, bdO, blse, bd, bdq, bdk, bdv, s);
      const g = attentionBackwardRef(q, k, v, dO, s);
      expectClose(await gpu.readF32(bdq), g.dq, ATOL, RTOL, 'dQ');
      expectClose(await gpu.readF32(bdk), g.dk, ATOL, RTOL, 'dK');
      expectClose(await gpu.readF32(bdv), g.dv, ATOL, RTOL, 'dV');
      for (const b of [bq, bk, bv, bdO, bo, blse, bd, bdq, bdk, bdv]) b.release();
    });
  }

  it('reference backward equals finite differences', () => {
    const s: AttentionShape = { B: 1, T: 4, Tk: 6, Hq: 4, Hkv: 2, D: 3 };
    const q = Float64Array.from(randn(48, 1));
    const k = Float64Array.from(randn(36, 2));
    const v = Float64Array.from(randn(36, 3));
    const dO = randn(48, 4);
    const g = attentionBackwardRef(q, k, v, dO, s);
    checkGradient((x) => dot(attentionRef(x, k, v, s).o, dO), q, g.dq, { what: 'dQ' });
    checkGradient((x) => dot(attentionRef(q, x, v, s).o, dO), k, g.dk, { what: 'dK' });
    checkGradient((x) => dot(attentionRef(q, k, x, s).o, dO), v, g.dv, { what: 'dV' });
  });
});
