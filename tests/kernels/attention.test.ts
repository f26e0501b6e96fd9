import { describe, expect, it } from 'vitest';
import {
  attentionBackward, attentionDecode, attentionDecodeScratchFloats, attentionForward, attentionVariant, decodeSplits,
  type AttentionShape, type AttentionVariant,
} from '../../src/engine/kernels/attention.ts';
import { attentionBackwardRef, attentionRef } from '../../src/engine/kernels/attention.ref.ts';
import { checkGradient, dot, expectClose, randn, testGpu, upload, zeros } from '../helpers/gpu.ts';

// f32 dot products over D <= 64 (|q|, |k| <= 2) and softmax over Tk <= 37 keys against the
// f64 reference (scores materialised, plain softmax): atol 2e-5, rtol 1e-4 on O, LSE, dQ, dK, dV.
const ATOL = 2e-5;
const RTOL = 1e-4;

const shapes: AttentionShape[] = [
  { B: 1, T: 1, Tk: 1, Hq: 1, Hkv: 1, D: 8 },
  { B: 2, T: 5, Tk: 5, Hq: 4, Hkv: 2, D: 8 },
  { B: 1, T: 37, Tk: 37, Hq: 3, Hkv: 1, D: 12 }, // 111 query rows: more than one workgroup of 64
  { B: 2, T: 37, Tk: 37, Hq: 4, Hkv: 2, D: 12 }, // 148 key rows: dK/dV pass over more than one workgroup
  { B: 2, T: 3, Tk: 11, Hq: 2, Hkv: 2, D: 12 }, // queries after 8 cached keys
  { B: 1, T: 1, Tk: 9, Hq: 4, Hkv: 2, D: 8, scale: 0.3 }, // one generated token
  { B: 1, T: 6, Tk: 6, Hq: 2, Hkv: 1, D: 64 },
  { B: 1, T: 8, Tk: 8, Hq: 2, Hkv: 1, D: 16 }, // T a multiple of the forward's 4 rows per thread
  { B: 1, T: 9, Tk: 9, Hq: 2, Hkv: 1, D: 8, scale: 2 }, // scores up to ~60: exp would overflow without the running max
  { B: 1, T: 4, Tk: 7, Hq: 3, Hkv: 3, D: 6 }, // head dim not a multiple of 4: scalar variant only
];

async function check(s: AttentionShape, variant: AttentionVariant) {
  const gpu = await testGpu();
  const nq = s.B * s.T * s.Hq * s.D;
  const nk = s.B * s.Tk * s.Hkv * s.D;
  const q = randn(nq, 1, -2, 2);
  const k = randn(nk, 2, -2, 2);
  const v = randn(nk, 3);
  const dO = randn(nq, 4);
  const bufs = [await upload(gpu, q), await upload(gpu, k), await upload(gpu, v), await upload(gpu, dO)];
  const [bq, bk, bv, bdO] = bufs;
  const nl = s.B * s.Hq * s.T;
  // Outputs start as NaN so that any element a pass fails to write shows up.
  const nan = (n: number) => upload(gpu, new Float32Array(n).fill(NaN));
  const outs = [await nan(nq), await nan(nl), await zeros(gpu, nl), await nan(nq), await nan(nk), await nan(nk)];
  const [bo, blse, bd, bdq, bdk, bdv] = outs;
  attentionForward(gpu, bq, bk, bv, bo, blse, s, variant);
  const ref = attentionRef(q, k, v, s);
  expectClose(await gpu.readF32(bo), ref.o, ATOL, RTOL, 'O');
  expectClose(await gpu.readF32(blse), ref.lse, ATOL, RTOL, 'LSE');
  attentionBackward(gpu, bq, bk, bv, bo, bdO, blse, bd, bdq, bdk, bdv, s, variant);
  const g = attentionBackwardRef(q, k, v, dO, s);
  expectClose(await gpu.readF32(bdq), g.dq, ATOL, RTOL, 'dQ');
  expectClose(await gpu.readF32(bdk), g.dk, ATOL, RTOL, 'dK');
  expectClose(await gpu.readF32(bdv), g.dv, ATOL, RTOL, 'dV');
  for (const b of [...bufs, ...outs]) b.release();
}

describe('causal GQA attention', () => {
  for (const s of shapes)
    for (const variant of s.D % 4 === 0 ? (['row', 'row4'] as const) : (['row'] as const))
      it(`${variant}: forward and backward at ${JSON.stringify(s)}`, () => check(s, variant));

  it('picks the vec4 variant where the head dim allows it, and rejects bad shapes', async () => {
    expect(attentionVariant(64)).toBe('row4');
    expect(attentionVariant(6)).toBe('row');
    const gpu = await testGpu();
    const b = await zeros(gpu, 64);
    expect(() => attentionForward(gpu, b, b, b, b, b, { B: 1, T: 1, Tk: 1, Hq: 3, Hkv: 2, D: 8 })).toThrow(RangeError);
    expect(() => attentionForward(gpu, b, b, b, b, b, { B: 1, T: 2, Tk: 1, Hq: 1, Hkv: 1, D: 8 })).toThrow(RangeError);
    expect(() => attentionForward(gpu, b, b, b, b, b, { B: 1, T: 1, Tk: 1, Hq: 1, Hkv: 1, D: 6 }, 'row4')).toThrow(RangeError);
    expect(() => attentionForward(gpu, b, b, b, b, b, { B: 1, T: 1, Tk: 1, Hq: 1, Hkv: 1, D: 132 })).toThrow(RangeError);
    b.release();
  });

  // Flash-decoding over a cache longer than the keys in use (capacity > Tk), with splits
  // that end mid-query-range (T > 1: later rows see one key more), empty splits for early
  // rows, one split (Tk <= 32) and many (Tk = 1100: 32 splits of 35 keys, the last shorter).
  const decodeShapes: AttentionShape[] = [
    { B: 1, T: 1, Tk: 1, Hq: 1, Hkv: 1, D: 4 },
    { B: 1, T: 1, Tk: 29, Hq: 4, Hkv: 2, D: 8 },
    { B: 1, T: 3, Tk: 70, Hq: 3, Hkv: 1, D: 12, scale: 2 }, // scores up to ~100: the running max
    { B: 1, T: 8, Tk: 40, Hq: 2, Hkv: 2, D: 16 },
    { B: 1, T: 1, Tk: 1100, Hq: 3, Hkv: 1, D: 64 },
    { B: 1, T: 5, Tk: 1100, Hq: 2, Hkv: 1, D: 8 },
  ];
  for (const s of decodeShapes)
    it(`flash-decoding (split keys, combine) equals the reference at ${JSON.stringify(s)} (${decodeSplits(s.Tk).S} splits)`, async () => {
      const gpu = await testGpu();
      const cap = s.Tk + 5;
      const q = randn(s.T * s.Hq * s.D, 11, -2, 2);
      const kc = randn(cap * s.Hkv * s.D, 12, -2, 2);
      const vc = randn(cap * s.Hkv * s.D, 13);
      const nan = (n: number) => upload(gpu, new Float32Array(n).fill(NaN));
      const [bq, bk, bv] = [await upload(gpu, q), await upload(gpu, kc), await upload(gpu, vc)];
      const [bo, blse, part] = [await nan(q.length), await nan(s.T * s.Hq), await nan(attentionDecodeScratchFloats(s.Hq, s.D))];
      attentionDecode(gpu, bq, bk, bv, bo, blse, part, s);
      const ref = attentionRef(q, kc.subarray(0, s.Tk * s.Hkv * s.D), vc.subarray(0, s.Tk * s.Hkv * s.D), s);
      expectClose(await gpu.readF32(bo), ref.o, ATOL, RTOL, 'O');
      expectClose(await gpu.readF32(blse), ref.lse, ATOL, RTOL, 'LSE');
      for (const b of [bq, bk, bv, bo, blse, part]) b.release();
    });

  it('flash-decoding rejects what it does not take (B > 1, T > 8, D % 4 != 0, small scratch)', async () => {
    const gpu = await testGpu();
    const b = await zeros(gpu, 4096);
    const small = await zeros(gpu, 8);
    expect(() => attentionDecode(gpu, b, b, b, b, b, b, { B: 2, T: 1, Tk: 4, Hq: 1, Hkv: 1, D: 4 })).toThrow(RangeError);
    expect(() => attentionDecode(gpu, b, b, b, b, b, b, { B: 1, T: 9, Tk: 9, Hq: 1, Hkv: 1, D: 4 })).toThrow(RangeError);
    expect(() => attentionDecode(gpu, b, b, b, b, b, b, { B: 1, T: 1, Tk: 4, Hq: 1, Hkv: 1, D: 6 })).toThrow(RangeError);
    expect(() => attentionDecode(gpu, b, b, b, b, b, small, { B: 1, T: 1, Tk: 40, Hq: 2, Hkv: 1, D: 8 })).toThrow(RangeError);
    for (const x of [b, small]) x.release();
  });

  it('reference backward equals finite differences', () => {
    // T < Tk (offset queries) and GQA 4/2.
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

  it('reference backward equals finite differences with B = 2, GQA 3/1 and a custom scale', () => {
    const s: AttentionShape = { B: 2, T: 3, Tk: 3, Hq: 3, Hkv: 1, D: 2, scale: 0.7 };
    const q = Float64Array.from(randn(36, 5));
    const k = Float64Array.from(randn(12, 6));
    const v = Float64Array.from(randn(12, 7));
    const dO = randn(36, 8);
    const g = attentionBackwardRef(q, k, v, dO, s);
    checkGradient((x) => dot(attentionRef(x, k, v, s).o, dO), q, g.dq, { what: 'dQ' });
    checkGradient((x) => dot(attentionRef(q, x, v, s).o, dO), k, g.dk, { what: 'dK' });
    checkGradient((x) => dot(attentionRef(q, k, x, s).o, dO), v, g.dv, { what: 'dV' });
  });
});
