// References for quant.ts: quantize / dequantize are defined by the host pack and unpack in
// ../quant/block.ts (quantizeRows, dequantizeRows); these wrap them in the references' shape.

import { dequantizeRows, type QuantFormat, type QuantTensor, quantizeRows } from '../quant/block.ts';

/** codes and scales of an (N, K) weight: exactly what quantizeGpu must write. */
export function quantizeRef(W: ArrayLike<number>, N: number, K: number, f: QuantFormat): QuantTensor {
  return quantizeRows(W, N, K, f);
}

/** The (N, K) weight a quantized tensor stands for, as f64. */
export function dequantizeRef(q: QuantTensor): Float64Array {
  return Float64Array.from(dequantizeRows(q));
}

/** Rows ids[n] of the dequantized table: what gatherQuantRows must write.  (M, K) */
export function gatherQuantRowsRef(q: QuantTensor, ids: ArrayLike<number>): Float64Array {
  const K = q.K;
  const out = new Float64Array(ids.length * K);
  for (let n = 0; n < ids.length; n++) out.set(dequantizeRows(q, ids[n], 1), n * K);
  return out;
}
