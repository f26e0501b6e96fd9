// Plain-loop reference for gemv.ts (f64): Y = X·op(W) + beta·Y0, op(W) = Wᵀ for W (N, K)
// ('NT') or W for W (K, N) ('NN').

import type { GemvShape } from './gemv.ts';

export function gemvRef(X: ArrayLike<number>, W: ArrayLike<number>, s: GemvShape, Y0?: ArrayLike<number>): Float64Array {
  const { M, N, K, layout } = s;
  const beta = s.beta ?? 0;
  const Y = new Float64Array(M * N);
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      let acc = 0;
      for (let k = 0; k < K; k++) acc += X[m * K + k] * (layout === 'NT' ? W[n * K + k] : W[k * N + n]);
      Y[m * N + n] = acc + (beta !== 0 && Y0 ? beta * Y0[m * N + n] : 0);
    }
  return Y;
}
