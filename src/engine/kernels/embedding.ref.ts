// Plain-loop references for embedding.ts (f64). ids: (n), table / dtable: (V, C),
// out / dout: (n, C). An id >= V gathers a zero row and contributes nothing backward.

/** out[i, :] = table[ids[i], :] */
export function embeddingRef(ids: ArrayLike<number>, table: ArrayLike<number>, C: number, V: number): Float64Array {
  const out = new Float64Array(ids.length * C);
  for (let i = 0; i < ids.length; i++) if (ids[i] < V) for (let c = 0; c < C; c++) out[i * C + c] = table[ids[i] * C + c];
  return out;
}

/** dtable = beta·dtable0 + Σ_{i: ids[i] = v} dout[i, :] (beta = 0 ignores dtable0). */
export function embeddingBackwardRef(ids: ArrayLike<number>, dout: ArrayLike<number>, dtable0: ArrayLike<number>, C: number, V: number, beta: number): Float64Array {
  const d = Float64Array.from(dtable0, (x) => (beta === 0 ? 0 : beta * x));
  for (let i = 0; i < ids.length; i++) if (ids[i] < V) for (let c = 0; c < C; c++) d[ids[i] * C + c] += dout[i * C + c];
  return d;
}
