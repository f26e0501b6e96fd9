// Plain-loop references for dora.ts: they define what the kernels compute (float64).

export function doraSumsqRef(W: ArrayLike<number>, rows: number, cols: number, sRow: number, sCol: number, w2?: ArrayLike<number>, beta = 0): Float64Array {
  const out = new Float64Array(cols);
  for (let o = 0; o < cols; o++) {
    let acc = 0;
    for (let j = 0; j < rows; j++) acc += W[j * sRow + o * sCol] ** 2;
    out[o] = acc + (beta !== 0 && w2 ? beta * w2[o] : 0);
  }
  return out;
}

/** n_o = sqrt(w2 + Σ_k B[o,k]·(2s·P[k,o] + s²·H[o,k])); c = m / n; inv = 1 / n. */
export function doraNormRef(w2: ArrayLike<number>, B: ArrayLike<number>, P: ArrayLike<number>, H: ArrayLike<number>, m: ArrayLike<number>, out: number, r: number, s: number) {
  const c = new Float64Array(out);
  const inv = new Float64Array(out);
  for (let o = 0; o < out; o++) {
    let cross = 0;
    for (let k = 0; k < r; k++) cross += B[o * r + k] * (2 * s * P[k * out + o] + s * s * H[o * r + k]);
    const n = Math.sqrt(Math.max(w2[o] + cross, 0));
    c[o] = m[o] / n;
    inv[o] = 1 / n;
  }
  return { c, inv };
}

/** v = y − b + z;  y' = c ⊙ v + b. */
export function doraCombineRef(b: ArrayLike<number> | undefined, c: ArrayLike<number>, z: ArrayLike<number>, y: ArrayLike<number>, rows: number, cols: number) {
  const v = new Float64Array(rows * cols);
  const yo = new Float64Array(rows * cols);
  for (let i = 0; i < rows * cols; i++) {
    const o = i % cols;
    const bo = b ? b[o] : 0;
    v[i] = y[i] - bo + z[i];
    yo[i] = c[o] * v[i] + bo;
  }
  return { v, y: yo };
}

export function doraBackwardScaleRef(dy: ArrayLike<number>, c: ArrayLike<number>, rows: number, cols: number) {
  const dv = new Float64Array(rows * cols);
  const e = new Float64Array(rows * cols);
  for (let i = 0; i < rows * cols; i++) {
    dv[i] = c[i % cols] * dy[i];
    e[i] = (c[i % cols] - 1) * dy[i];
  }
  return { dv, e };
}

export function doraMagnitudeGradRef(dy: ArrayLike<number>, v: ArrayLike<number>, inv: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const dm = new Float64Array(cols);
  for (let o = 0; o < cols; o++) {
    let acc = 0;
    for (let j = 0; j < rows; j++) acc += dy[j * cols + o] * v[j * cols + o];
    dm[o] = inv[o] * acc;
  }
  return dm;
}

/** Row norms of W + s·B·A for an (out, in) weight, formed directly (what doraNorm expands). */
export function doraRowNormRef(W: ArrayLike<number>, A: ArrayLike<number>, B: ArrayLike<number>, out: number, inp: number, r: number, s: number): Float64Array {
  const n = new Float64Array(out);
  for (let o = 0; o < out; o++) {
    let acc = 0;
    for (let i = 0; i < inp; i++) {
      let d = 0;
      for (let k = 0; k < r; k++) d += B[o * r + k] * A[k * inp + i];
      acc += (W[o * inp + i] + s * d) ** 2;
    }
    n[o] = Math.sqrt(acc);
  }
  return n;
}
