// References for sparse.ts (f64).

export function gatherRef(W: ArrayLike<number>, idx: ArrayLike<number>): Float64Array {
  return Float64Array.from({ length: idx.length }, (_, j) => W[idx[j]]);
}

export function scatterAddRef(W: ArrayLike<number>, idx: ArrayLike<number>, vals: ArrayLike<number>, alpha: number | null): Float64Array {
  const out = Float64Array.from(W);
  for (let j = 0; j < idx.length; j++) out[idx[j]] = alpha === null ? vals[j] : out[idx[j]] + alpha * vals[j];
  return out;
}
