// Reference for sddmm.ts (f64): the sampled entries of dW = dyᵀ·x in W's storage order.

import { entryOf } from './layout.ts';
import type { SddmmShape } from './sddmm.ts';

export { entryOf };

/** vals[k] = alpha·Σ_n dy[n, r_k]·x[n, c_k] + beta·vals0[k] */
export function sddmmRef(dy: ArrayLike<number>, x: ArrayLike<number>, idx: ArrayLike<number>, s: SddmmShape, vals0?: ArrayLike<number>): Float64Array {
  const out = new Float64Array(s.k);
  const alpha = s.alpha ?? 1;
  const beta = s.beta ?? 0;
  for (let k = 0; k < s.k; k++) {
    const [r, c] = entryOf(idx[k], s.out, s.in, s.layout);
    let acc = 0;
    for (let n = 0; n < s.n; n++) acc += dy[n * s.out + r] * x[n * s.in + c];
    out[k] = alpha * acc + (beta !== 0 && vals0 ? beta * vals0[k] : 0);
  }
  return out;
}
