import { describe, expect, it } from 'vitest';
import type { GpuBuf } from '../../src/engine/gpu/arena.ts';
import { meanLoss, xentChunkBackward, xentChunkForward, xentFinalize } from '../../src/engine/kernels/xent.ts';
import { xentBackwardRef, xentRef } from '../../src/engine/kernels/xent.ref.ts';
import { checkGradient, expectClose, randn, rng, testGpu, upload, zeros } from '../helpers/gpu.ts';

// exp/log in f32 over V <= 300 terms: loss atol 1e-5 rtol 1e-5 (also with logits near 1e4,
// since loss is formed as (max − target) + log Σ); gradients atol 1e-6 rtol 1e-4.

/** Column slice [v0, v0+Vc) of (rows, V) logits: what a chunked lm_head would produce. */
function slice(x: Float32Array, rows: number, V: number, v0: number, Vc: number): Float32Array {
  const out = new Float32Array(rows * Vc);
  for (let r = 0; r < rows; r++) out.set(x.subarray(r * V + v0, r * V + v0 + Vc), r * Vc);
  return out;
}

describe('chunked cross-entropy', () => {
  for (const [rows, V, Vc, big] of [[1, 37, 37, false], [5, 37, 10, false], [33, 300, 64, false], [5, 300, 300, true]] as const) {
    it(`rows=${rows} V=${V} chunks of ${Vc}${big ? ', logits ~1e4' : ''}: loss, lse and gradient match the full reference`, async () => {
      const gpu = await testGpu();
      const r = rng(rows * V);
      const logits = randn(rows * V, rows + V, -3, 3);
      if (big) for (let i = 0; i < logits.length; i++) logits[i] = 1e4 + logits[i];
      const targets = Uint32Array.from({ length: rows }, () => Math.floor(r() * V));
      const mask = Uint32Array.from({ length: rows }, (_, i) => (i % 3 === 1 ? 0 : 1));
      const [bt, bm, bs, bl, blse] = [await upload(gpu, targets), await upload(gpu, mask), await zeros(gpu, rows * 3), await zeros(gpu, rows), await zeros(gpu, rows)];
      const chunks: { v0: number; n: number; buf: GpuBuf; d: GpuBuf }[] = [];
      for (let v0 = 0; v0 < V; v0 += Vc) {
        const n = Math.min(Vc, V - v0);
        chunks.push({ v0, n, buf: await upload(gpu, slice(logits, rows, V, v0, n)), d: await zeros(gpu, rows * n) });
      }
      for (const c of chunks) xentChunkForward(gpu, c.buf, bt, bs, rows, c.n, c.v0, c.v0 === 0);
      xentFinalize(gpu, bs, bm, bl, blse, rows);
      const ref = xentRef(logits, targets, mask, rows, V);
      const loss = await gpu.readF32(bl);
      expectClose(loss, ref.loss, 1e-5, 1e-5, 'loss');
      expectClose(await gpu.readF32(blse), ref.lse, 1e-5, 1e-6, 'lse'); // 1e-6·1e4: an f32 ulp at 1e4
      expect(loss.every((v, i) => mask[i] || v === 0)).toBe(true);
      const scale = 1 / mask.reduce((a, b) => a + b, 0);
      for (const c of chunks) xentChunkBackward(gpu, c.buf, bs, bt, bm, c.d, rows, c.n, c.v0, scale);
      const dref = xentBackwardRef(logits, targets, mask, rows, V, scale);
      for (const c of chunks) {
        expectClose(await gpu.readF32(c.d), slice(Float32Array.from(dref), rows, V, c.v0, c.n), 1e-6, 1e-4, `dlogits chunk ${c.v0}`);
      }
      expect(Math.abs(meanLoss(loss, mask) - meanLoss(ref.loss, mask))).toBeLessThan(1e-5);
      for (const b of [bt, bm, bs, bl, blse, ...chunks.flatMap((c) => [c.buf, c.d])]) b.release();
    });
  }

  it('reference backward equals finite differences (masked rows have zero gradient)', () => {
    const [rows, V] = [3, 7];
    const logits = Float64Array.from(randn(rows * V, 1, -2, 2));
    const targets = [1, 6, 0];
    const mask = [1, 0, 1];
    const f = (x: Float64Array) => xentRef(x, targets, mask, rows, V).loss.reduce((a, b) => a + b, 0) * 0.5;
    checkGradient(f, logits, xentBackwardRef(logits, targets, mask, rows, V, 0.5), { indices: [...Array(rows * V).keys()], what: 'dlogits' });
  });
});
