import { describe, expect, it } from 'vitest';
import { Autotuner } from '../../src/engine/gpu/autotune.ts';
import type { GpuBuf } from '../../src/engine/gpu/arena.ts';
import type { Gpu } from '../../src/engine/gpu/gpu.ts';
import { chosenXentVariant, meanLoss, tuneXent, XENT_STATE, XENT_VARIANTS, xentChunkBackward, xentChunkForward, xentFinalize, type XentVariant } from '../../src/engine/kernels/xent.ts';
import { xentBackwardRef, xentRef } from '../../src/engine/kernels/xent.ref.ts';
import { checkGradient, expectClose, randn, rng, testGpu, upload } from '../helpers/gpu.ts';

// Tolerances |gpu − ref| <= atol + rtol·|ref|:
//   loss: atol 1e-5, rtol 1e-5 — exp/log in f32 over V <= 300 terms; also with logits near
//         1e4, since the loss is formed as (max − target logit) + log Σ, never lse − target.
//   lse:  atol 1e-5, rtol 1e-6 (1e-6·1e4 is about one f32 ulp at 1e4).
//   dlogits: atol 1e-6, rtol 1e-4 (softmax from exp(x − max)/Σ; x − max is exact in f32).
//   chunked vs one chunk on the GPU: the same, since only the merge order of Σ differs.
// Masked rows: loss and every gradient entry exactly 0.

/** Column slice [v0, v0+Vc) of (rows, V) logits: what a chunked lm_head would produce. */
function slice(x: ArrayLike<number>, rows: number, V: number, v0: number, Vc: number): Float32Array {
  const out = new Float32Array(rows * Vc);
  for (let r = 0; r < rows; r++) for (let j = 0; j < Vc; j++) out[r * Vc + j] = x[r * V + v0 + j];
  return out;
}

interface Result { loss: Float32Array; lse: Float32Array; dlogits: Float32Array }

/** Loss, lse and the full (rows, V) gradient computed chunk by chunk on the GPU. */
async function runChunked(
  gpu: Gpu, logits: Float32Array, targets: Uint32Array, mask: Uint32Array, rows: number, V: number, Vc: number, scale: number, variant: XentVariant,
): Promise<Result> {
  // State, loss and lse start as NaN: the first chunk must not read the state, and every
  // output entry must be written.
  const nan = (n: number) => upload(gpu, new Float32Array(n).fill(NaN));
  const [bt, bm, bs, bl, blse] = [await upload(gpu, targets), await upload(gpu, mask), await nan(rows * XENT_STATE), await nan(rows), await nan(rows)];
  const chunks: { v0: number; n: number; buf: GpuBuf; d: GpuBuf }[] = [];
  for (let v0 = 0; v0 < V; v0 += Vc) {
    const n = Math.min(Vc, V - v0);
    const d = await upload(gpu, new Float32Array(rows * n).fill(NaN)); // every entry must be written
    chunks.push({ v0, n, buf: await upload(gpu, slice(logits, rows, V, v0, n)), d });
  }
  for (const c of chunks) xentChunkForward(gpu, c.buf, bt, bs, rows, c.n, c.v0, c.v0 === 0, variant);
  xentFinalize(gpu, bs, bm, bl, blse, rows);
  for (const c of chunks) xentChunkBackward(gpu, c.buf, bs, bt, bm, c.d, rows, c.n, c.v0, scale);
  const dlogits = new Float32Array(rows * V);
  for (const c of chunks) {
    const d = await gpu.readF32(c.d);
    for (let r = 0; r < rows; r++) dlogits.set(d.subarray(r * c.n, (r + 1) * c.n), r * V + c.v0);
  }
  const out = { loss: await gpu.readF32(bl), lse: await gpu.readF32(blse), dlogits };
  for (const b of [bt, bm, bs, bl, blse, ...chunks.flatMap((c) => [c.buf, c.d])]) b.release();
  return out;
}

// big: 'shift' adds 1e4 to every logit (loss O(1), must stay exact); 'spread' makes them
// ±1e4 (exp underflows to 0 for half the row; losses near 2e4 are f32-rounded there).
const CASES: [rows: number, V: number, Vc: number, big: '' | 'shift' | 'spread'][] = [
  [1, 37, 37, ''], [5, 37, 10, ''], [33, 300, 64, ''], [70, 300, 300, ''], [5, 300, 7, 'shift'], [6, 300, 64, 'spread'],
];

describe.each(XENT_VARIANTS)('chunked cross-entropy, chunk_fwd variant %s', (variant) => {
  for (const [rows, V, Vc, big] of CASES) {
    it(`rows=${rows} V=${V} chunks of ${Vc}${big ? `, logits ${big} 1e4` : ''}: matches the reference and the one-chunk GPU result`, async () => {
      const gpu = await testGpu();
      const r = rng(rows * V);
      const logits = randn(rows * V, rows + V, -3, 3);
      if (big === 'shift') for (let i = 0; i < logits.length; i++) logits[i] += 1e4;
      if (big === 'spread') for (let i = 0; i < logits.length; i++) logits[i] += i % 2 ? 1e4 : -1e4;
      const targets = Uint32Array.from({ length: rows }, () => Math.floor(r() * V));
      targets[0] = V - 1; // last column, in the last (narrow) chunk
      if (rows > 2) targets[2] = Vc - 1; // last column of the first chunk
      if (rows > 3) targets[3] = Vc % V; // first column of the second chunk (0 when one chunk)
      if (rows > 5) targets[5] = 0;
      if (rows > 1) targets[1] = 0xffffffff; // masked row (1 % 3 === 1): any target, e.g. an ignore index
      const mask = Uint32Array.from({ length: rows }, (_, i) => (i % 3 === 1 ? 0 : 1));
      const count = mask.reduce((a, b) => a + b, 0);
      const scale = 1 / Math.max(1, count);
      const got = await runChunked(gpu, logits, targets, mask, rows, V, Vc, scale, variant);
      const ref = xentRef(logits, targets, mask, rows, V);
      expectClose(got.loss, ref.loss, 1e-5, 1e-5, 'loss');
      expectClose(got.lse, ref.lse, 1e-5, 1e-6, 'lse');
      expectClose(got.dlogits, xentBackwardRef(logits, targets, mask, rows, V, scale), 1e-6, 1e-4, 'dlogits');
      for (let i = 0; i < rows; i++) {
        if (mask[i]) continue;
        expect(got.loss[i], `masked row ${i} loss`).toBe(0);
        expect(got.dlogits.subarray(i * V, (i + 1) * V).every((d) => d === 0), `masked row ${i} gradient`).toBe(true);
      }
      const mean = meanLoss(ref.loss, mask);
      expect(Math.abs(meanLoss(got.loss, mask) - mean)).toBeLessThan(1e-5 + 1e-5 * Math.abs(mean));
      if (Vc < V) {
        const one = await runChunked(gpu, logits, targets, mask, rows, V, V, scale, variant);
        expectClose(got.loss, one.loss, 1e-5, 1e-5, 'chunked vs one chunk: loss');
        expectClose(got.lse, one.lse, 1e-5, 1e-6, 'chunked vs one chunk: lse');
        expectClose(got.dlogits, one.dlogits, 1e-6, 1e-4, 'chunked vs one chunk: dlogits');
      }
    });
  }
});

describe('cross-entropy reference', () => {
  it('backward equals finite differences (masked rows have zero gradient)', () => {
    const [rows, V] = [3, 7];
    const logits = Float64Array.from(randn(rows * V, 1, -2, 2));
    const targets = [1, 6, 0];
    const mask = [1, 0, 1];
    const f = (x: Float64Array) => xentRef(x, targets, mask, rows, V).loss.reduce((a, b) => a + b, 0) * 0.5;
    checkGradient(f, logits, xentBackwardRef(logits, targets, mask, rows, V, 0.5), { indices: [...Array(rows * V).keys()], what: 'dlogits' });
  });

  it('meanLoss averages counted rows only', () => {
    expect(meanLoss([1, 5, 3], [1, 0, 1])).toBe(2);
    expect(meanLoss([1, 5], [0, 0])).toBe(0);
  });
});

describe('cross-entropy autotune', () => {
  it('measures both chunk_fwd variants, makes the faster the default and caches the choice', async () => {
    const gpu = await testGpu();
    const tuner = new Autotuner(gpu);
    const r = await tuneXent(gpu, tuner, 33, 300);
    expect(r.measurements.map((m) => m.variant)).toEqual([...XENT_VARIANTS]);
    expect(chosenXentVariant(gpu)).toBe(r.chosen);
    expect((await tuneXent(gpu, tuner, 33, 300)).cached).toBe(true);
  });
});
