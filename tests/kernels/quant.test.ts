import { describe, expect, it } from 'vitest';
import { allocQuant, dequantizeGpu, qmatmulBackward, qmatmulForward, quantizeGpu, releaseQuant, uploadQuant } from '../../src/engine/kernels/quant.ts';
import { qmatmulBackwardRef, qmatmulForwardRef } from '../../src/engine/kernels/quant.ref.ts';
import { f16ToF32 } from '../../src/engine/io/safetensors.ts';
import { blocksPerRow, dequantize, f32ToF16, QUANT_FORMATS, quantBytes, quantErrorBound, quantize } from '../../src/engine/quant/block.ts';
import { checkGradient, dot, expectClose, randn, testGpu, upload, zeros } from '../helpers/gpu.ts';

// Quantized matmuls against the plain reference on the dequantized weight: f32 sums over
// K <= 100: atol 1e-4, rtol 1e-4.
const ATOL = 1e-4;
const RTOL = 1e-4;

describe('block quantization (host)', () => {
  it('f16 conversion rounds to nearest even', () => {
    expect(f32ToF16(1)).toBe(0x3c00);
    expect(f32ToF16(65504)).toBe(0x7bff);
    expect(f32ToF16(1 + 2 ** -11)).toBe(0x3c00); // tie → even
    expect(f32ToF16(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(f32ToF16(2 ** -24)).toBe(1);
    expect(f16ToF32(f32ToF16(0.1))).toBeCloseTo(0.1, 4);
  });

  for (const f of QUANT_FORMATS) {
    it(`${f}: every weight within its block's error bound; padding decodes to 0; sizes`, () => {
      const [N, K] = [5, 70];
      const w = randn(N * K, 3, -2, 2);
      w[7] = 0; // an exact zero survives
      for (let k = 32; k < 64; k++) w[2 * K + k] = 0; // an all-zero block
      const q = quantize(w, N, K, f);
      const back = dequantize(q);
      const KB = blocksPerRow(K);
      for (let n = 0; n < N; n++)
        for (let k = 0; k < K; k++) {
          const d = f16ToF32(q.scales[n * KB + (k >> 5)]);
          expect(Math.abs(back[n * K + k] - w[n * K + k])).toBeLessThanOrEqual(quantErrorBound(f, d) * (1 + 1e-6) + 1e-7);
        }
      expect(back[7]).toBe(0);
      expect(quantBytes(N, K, f)).toBe(q.codes.byteLength + Math.ceil((N * KB) / 2) * 4);
      expect(quantBytes(576, 576, 'q4') / (576 * 576 * 4)).toBeCloseTo(4.5 / 32, 6); // ~1/7 of f32
    });
  }
});

describe('block quantization (GPU)', () => {
  for (const f of QUANT_FORMATS) {
    it(`${f}: GPU quantize agrees with the host pack; GPU dequantize equals the host's`, async () => {
      const gpu = await testGpu();
      const [N, K] = [7, 100];
      const w = randn(N * K, 11, -3, 3);
      const host = quantize(w, N, K, f);
      const bw = await upload(gpu, w);
      const qt = await allocQuant(gpu.arena, f, N, K, 'q');
      quantizeGpu(gpu, bw, qt);
      const scales = new Uint16Array((await gpu.readU32(qt.scales)).buffer);
      expect([...scales.subarray(0, N * blocksPerRow(K))]).toEqual([...host.scales.subarray(0, N * blocksPerRow(K))]);
      const codes = await gpu.readU32(qt.codes);
      // Codes may differ only where x/d lands within float error of a rounding boundary.
      let differ = 0;
      for (let i = 0; i < codes.length; i++) if (codes[i] !== host.codes[i]) differ++;
      expect(differ).toBeLessThanOrEqual(Math.ceil(codes.length * 0.01));
      const up = await uploadQuant(gpu, host, 'q-host');
      const bout = await zeros(gpu, N * K);
      dequantizeGpu(gpu, up, bout);
      expectClose(await gpu.readF32(bout), dequantize(host), 0, 0, 'dequantize');
      for (const b of [bw, bout]) b.release();
      releaseQuant(qt);
      releaseQuant(up);
    });
  }

  for (const f of QUANT_FORMATS) {
    it(`${f}: Y = X·Wqᵀ and dX = dY·Wq at awkward shapes, never expanding W`, async () => {
      const gpu = await testGpu();
      for (const [M, N, K] of [[1, 1, 1], [3, 5, 33], [17, 37, 70], [70, 9, 100]]) {
        const q = quantize(randn(N * K, M + N, -1, 1), N, K, f);
        const W = await uploadQuant(gpu, q, 'w');
        const before = gpu.ledger.snapshot().live.weights;
        const x = randn(M * K, 2);
        const dy = randn(M * N, 3);
        const y0 = randn(M * N, 4);
        const [bx, bdy, by, bdx] = [await upload(gpu, x), await upload(gpu, dy), await upload(gpu, y0), await zeros(gpu, M * K)];
        qmatmulForward(gpu, bx, W, by, M, 0.5);
        expectClose(await gpu.readF32(by), qmatmulForwardRef(x, q, M, 0.5, y0), ATOL, RTOL, `${f} fwd ${M}x${N}x${K}`);
        qmatmulBackward(gpu, bdy, W, bdx, M);
        expectClose(await gpu.readF32(bdx), qmatmulBackwardRef(dy, q, M), ATOL, RTOL, `${f} bwd ${M}x${N}x${K}`);
        expect(gpu.ledger.snapshot().live.weights).toBe(before); // no f32 copy of W appeared
        for (const b of [bx, bdy, by, bdx]) b.release();
        releaseQuant(W);
      }
    });
  }

  it('reference backward-to-input equals finite differences of the forward', () => {
    const [M, N, K] = [3, 4, 40];
    const q = quantize(randn(N * K, 1), N, K, 'q4');
    const x = Float64Array.from(randn(M * K, 2));
    const g = randn(M * N, 3);
    checkGradient((xx) => dot(qmatmulForwardRef(xx, q, M), g), x, qmatmulBackwardRef(g, q, M), { what: 'q4 dX' });
  });
});
