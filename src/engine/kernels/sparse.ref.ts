// References for sparse.ts (f64).

/** vals[j] = W[idx[j]] */
export function gatherRef(W: ArrayLike<number>, idx: ArrayLike<number>): Float64Array {
  return Float64Array.from({ length: idx.length }, (_, j) => W[idx[j]]);
}

/** W with W[idx[j]] = vals[j] */
export function scatterRef(W: ArrayLike<number>, idx: ArrayLike<number>, vals: ArrayLike<number>): Float64Array {
  const out = Float64Array.from(W);
  for (let j = 0; j < idx.length; j++) out[idx[j]] = vals[j];
  return out;
}

/** W with W[idx[j]] += alpha · vals[j] */
export function scatterAddRef(W: ArrayLike<number>, idx: ArrayLike<number>, vals: ArrayLike<number>, alpha: number): Float64Array {
  const out = Float64Array.from(W);
  for (let j = 0; j < idx.length; j++) out[idx[j]] += alpha * vals[j];
  return out;
}
