// References for qmatmul.ts (f64): the quantized matmuls are plain matmuls on the
// dequantized weight.

import { dequantize, type QuantTensor } from '../quant/block.ts';

/** Y = X·Wᵀ + beta·Y0 with W = dequantize(q).  X: (M, K), Y0: (M, N) */
export function qmatmulForwardRef(X: ArrayLike<number>, q: QuantTensor, M: number, beta = 0, Y0?: ArrayLike<number>): Float64Array {
  const W = dequantize(q);
  const { N, K } = q;
  const Y = new Float64Array(M * N);
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += X[m * K + k] * W[n * K + k];
      Y[m * N + n] = s + (beta && Y0 ? beta * Y0[m * N + n] : 0);
    }
  return Y;
}

/** dX = dY·W + beta·dX0 with W = dequantize(q).  dY: (M, N), dX0: (M, K) */
export function qmatmulBackwardRef(dY: ArrayLike<number>, q: QuantTensor, M: number, beta = 0, dX0?: ArrayLike<number>): Float64Array {
  const W = dequantize(q);
  const { N, K } = q;
  const dX = new Float64Array(M * K);
  for (let m = 0; m < M; m++)
    for (let k = 0; k < K; k++) {
      let s = 0;
      for (let n = 0; n < N; n++) s += dY[m * N + n] * W[n * K + k];
      dX[m * K + k] = s + (beta && dX0 ? beta * dX0[m * K + k] : 0);
    }
  return dX;
}
