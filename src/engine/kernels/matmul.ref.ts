// Plain-loop reference for matmul.ts: c = alpha · op(a)·op(b) + beta · c, batched, in f64.

import type { MatmulShape } from './matmul.ts';

export function matmulRef(a: ArrayLike<number>, b: ArrayLike<number>, c: ArrayLike<number>, s: MatmulShape): Float64Array {
  const { M, N, K, layout } = s;
  const batch = s.batch ?? 1;
  const sA = s.strideA ?? M * K;
  const sB = s.strideB ?? K * N;
  const sC = s.strideC ?? M * N;
  const alpha = s.alpha ?? 1;
  const beta = s.beta ?? 0;
  const out = Float64Array.from(c);
  for (let bt = 0; bt < batch; bt++) {
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let acc = 0;
        for (let k = 0; k < K; k++) {
          const av = layout === 'TN' ? a[bt * sA + k * M + m] : a[bt * sA + m * K + k];
          const bv = layout === 'NT' ? b[bt * sB + n * K + k] : b[bt * sB + k * N + n];
          acc += av * bv;
        }
        const at = bt * sC + m * N + n;
        out[at] = alpha * acc + (beta !== 0 ? beta * c[at] : 0);
      }
    }
  }
  return out;
}
