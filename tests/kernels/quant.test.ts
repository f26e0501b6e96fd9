import { describe, expect, it } from 'vitest';
import { allocQuant, dequantizeGpu, gatherQuantRows, quantizeGpu, releaseQuant, uploadQuant } from '../../src/engine/kernels/quant.ts';
import { dequantizeRef, gatherQuantRowsRef, quantizeRef } from '../../src/engine/kernels/quant.ref.ts';
import {
  allocQuantHost, blocksPerRow, dequantizeRows, f16ToF32, f32ToF16, NF4_CODEBOOK, QUANT_FORMATS, quantBytes, type QuantFormat,
  quantErrorBound, quantizeRows, quantizeRowsInto, scaleBits,
} from '../../src/engine/quant/block.ts';
import { expectClose, randn, testGpu, upload, zeros } from '../helpers/gpu.ts';

// quantize on the GPU must equal the host pack bit for bit; dequantize exactly (atol 0, rtol 0).

/** Rows of test weights with the hard cases: exact zeros, an all-zero block, rounding ties,
 *  a block with a subnormal f16 scale, a lone outlier, one-sided blocks. */
function awkward(N: number, K: number, seed: number): Float32Array {
  const w = randn(N * K, seed, -2, 2);
  w[3] = 0;
  for (let k = 32; k < Math.min(64, K); k++) w[K + k] = 0; // row 1, block 1: zeros
  if (N > 2) for (let k = 0; k < Math.min(32, K); k++) w[2 * K + k] = (k % 2 ? -1 : 1) * (k * 0.25 + 0.25); // ties for d = 0.25·…
  if (N > 3) for (let k = 0; k < Math.min(32, K); k++) w[3 * K + k] = 1e-6 * (k - 11); // tiny: f16 scale subnormal
  if (N > 4) w[4 * K + 5] = 40; // outlier
  if (N > 5) for (let k = 0; k < K; k++) w[5 * K + k] = Math.abs(w[5 * K + k]); // positive only
  if (N > 6) for (let k = 0; k < K; k++) w[6 * K + k] = -Math.abs(w[6 * K + k]); // negative only
  return w;
}

function codesOf(f: QuantFormat, x: number[]): { d: number; codes: number[] } {
  const q = quantizeRows(x, 1, x.length, f);
  const d = f16ToF32(scaleBits(q, 0));
  const codes = x.map((_, j) => (f === 'q8' ? ((q.codes[j >> 2] >>> (8 * (j & 3))) & 0xff) : (q.codes[j >> 3] >>> (4 * (j & 7))) & 0xf));
  return { d, codes };
}

describe('block quantization (host)', () => {
  it('f16 conversion rounds to nearest even', () => {
    expect(f32ToF16(1)).toBe(0x3c00);
    expect(f32ToF16(65504)).toBe(0x7bff);
    expect(f32ToF16(1 + 2 ** -11)).toBe(0x3c00); // tie → even
    expect(f32ToF16(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(f32ToF16(2 ** -24)).toBe(1);
    expect(f16ToF32(f32ToF16(0.1))).toBeCloseTo(0.1, 4);
  });

  it('exact rules: scales rounded up to f16, ties away from zero, q4 gives the larger side −8', () => {
    // q8: absmax 63.5 → d = 0.5; 0.25 and −0.75 are ties.
    expect(codesOf('q8', [63.5, 0.25, -0.75, 0.2, -63.5])).toEqual({ d: 0.5, codes: [127, 1, 0xfe, 0, 0x81] });
    // q8: absmax 1 → 1/127 rounded up to f16 (so 1/d ≤ 127).
    const r = codesOf('q8', [1]);
    expect(r.d).toBeGreaterThanOrEqual(1 / 127);
    expect(f16ToF32(f32ToF16(1 / 127) - 1)).toBeLessThan(1 / 127);
    expect(r.codes).toEqual([127]);
    // q4: negative side larger, L = 8.5, S = 7.5 → d = +1; −8.5 → −8, 7.5 → 7, ±0.5 → ±1.
    expect(codesOf('q4', [-8.5, 7.5, 0.5, -0.5, 2.4])).toEqual({ d: 1, codes: [0, 15, 9, 7, 10] });
    // q4: positive side larger → negative scale; 8.5 → code 0 (value −8 · −1).
    expect(codesOf('q4', [8.5, -1, 0])).toEqual({ d: -1, codes: [0, 9, 8] });
    // nf4: d = absmax; nearest codebook value.
    const nf = codesOf('nf4', [-2, 2, 0, 0.15, -0.6]);
    expect(nf.d).toBe(2);
    expect(nf.codes).toEqual([0, 15, 7, 8, 4]); // −0.3 → −0.2844
    // All-zero blocks: d = 0 and the code of 0.
    expect(codesOf('q8', [0, 0]).codes).toEqual([0, 0]);
    expect(codesOf('q4', [0, 0])).toEqual({ d: 0, codes: [8, 8] });
    expect(codesOf('nf4', [0, 0])).toEqual({ d: 0, codes: [7, 7] });
  });

  for (const f of QUANT_FORMATS) {
    it(`${f}: every weight within its block's error bound; padding decodes to 0; row ranges stream; sizes`, () => {
      const [N, K] = [9, 70];
      const w = awkward(N, K, 3);
      const q = quantizeRows(w, N, K, f);
      const back = dequantizeRows(q);
      const KB = blocksPerRow(K);
      let worst = 0;
      for (let n = 0; n < N; n++)
        for (let k = 0; k < K; k++) {
          const d = f16ToF32(scaleBits(q, n * KB + (k >> 5)));
          const err = Math.abs(back[n * K + k] - w[n * K + k]);
          expect(err).toBeLessThanOrEqual(quantErrorBound(f, d) * (1 + 1e-6));
          if (d !== 0) worst = Math.max(worst, err / quantErrorBound(f, d));
        }
      expect(worst).toBeGreaterThan(0.5); // the bound is not vacuous
      expect(back[3]).toBe(0);
      for (let k = 32; k < 64; k++) expect(back[K + k]).toBe(0);
      // Padding (elements 70..95 of each row's last block) is stored as the code of 0.
      const full = dequantizeRows(quantizeRows(Float32Array.from({ length: N * 96 }, (_, i) => (i % 96 < K ? w[Math.floor(i / 96) * K + (i % 96)] : 0)), N, 96, f));
      for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) expect(full[n * 96 + k]).toBe(back[n * K + k]);
      // Streaming: rows quantized in ranges of odd length equal the whole tensor at once.
      const parts = allocQuantHost(f, N, K);
      for (let r0 = 0; r0 < N; r0 += 3) quantizeRowsInto(parts, r0, w.subarray(r0 * K, Math.min(N, r0 + 3) * K), Math.min(3, N - r0));
      expect([...parts.codes]).toEqual([...q.codes]);
      expect([...parts.scales]).toEqual([...q.scales]);
      expect([...dequantizeRows(q, 4, 3)]).toEqual([...back.subarray(4 * K, 7 * K)]);
      expect(quantBytes(N, K, f)).toBe(q.codes.byteLength + q.scales.byteLength);
    });
  }

  it('sizes: q4 and nf4 hold 4.5 bits per weight (~1/7 of f32), q8 8.5', () => {
    expect(quantBytes(576, 576, 'q4') / (576 * 576 * 4)).toBeCloseTo(4.5 / 32, 9);
    expect(quantBytes(576, 576, 'nf4') / (576 * 576 * 4)).toBeCloseTo(4.5 / 32, 9);
    expect(quantBytes(576, 576, 'q8') / (576 * 576 * 4)).toBeCloseTo(8.5 / 32, 9);
    expect(quantBytes(3, 33, 'q4')).toBe(6 * 16 + 3 * 4);
  });

  it('nf4 error bound is half the largest codebook gap', () => {
    expect(quantErrorBound('nf4', 2)).toBeCloseTo(NF4_CODEBOOK[1] - NF4_CODEBOOK[0], 6); // the gap −1 … −0.696
  });
});

describe('block quantization (GPU)', () => {
  for (const f of QUANT_FORMATS) {
    it(`${f}: GPU quantize equals the host pack bit for bit; GPU dequantize equals the host's`, async () => {
      const gpu = await testGpu();
      for (const [N, K] of [[9, 100], [7, 33], [1, 1], [3, 64]]) {
        const w = awkward(N, K, 11 + K);
        const host = quantizeRef(w, N, K, f);
        const bw = await upload(gpu, w);
        const qt = await allocQuant(gpu.arena, f, N, K, 'q');
        quantizeGpu(gpu, bw, qt);
        expect([...(await gpu.readU32(qt.scales))]).toEqual([...host.scales]);
        expect([...(await gpu.readU32(qt.codes))]).toEqual([...host.codes]);
        const up = await uploadQuant(gpu, host, 'q-host');
        const bout = await zeros(gpu, N * K);
        dequantizeGpu(gpu, up, bout);
        expectClose(await gpu.readF32(bout), dequantizeRef(host), 0, 0, `${f} dequantize ${N}x${K}`);
        for (const b of [bw, bout]) b.release();
        releaseQuant(qt);
        releaseQuant(up);
      }
    });
  }

  for (const f of QUANT_FORMATS) {
    it(`${f}: gather (a quantized embedding lookup) equals the dequantized rows, repeated and out of order`, async () => {
      const gpu = await testGpu();
      for (const [N, K, ids] of [[9, 100, [8, 0, 3, 3, 8, 1]], [5, 33, [4]], [2, 1, [1, 0, 1]]] as const) {
        const host = quantizeRef(awkward(N, K, 5 + K), N, K, f);
        const q = await uploadQuant(gpu, host, 'table');
        const idBuf = await upload(gpu, Uint32Array.from(ids));
        const out = await zeros(gpu, ids.length * K);
        gatherQuantRows(gpu, q, idBuf, out, ids.length);
        expectClose(await gpu.readF32(out), gatherQuantRowsRef(host, ids), 0, 0, `${f} gather ${N}x${K}`);
        for (const b of [idBuf, out]) b.release();
        releaseQuant(q);
      }
    });
  }
});
