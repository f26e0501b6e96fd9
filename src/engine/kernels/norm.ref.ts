// Plain-loop references for norm.ts (f64). x, y, dy, dx: (rows, C); w, b, dw, db: (C);
// mean, rstd: (rows). The backward references take no beta: dw, db are the plain sums.

/** RMSNorm, Llama convention: y = x · rstd · w, rstd = 1/√(mean(x²) + eps). */
export function rmsNormRef(x: ArrayLike<number>, w: ArrayLike<number>, rows: number, C: number, eps: number) {
  const y = new Float64Array(rows * C);
  const rstd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let c = 0; c < C; c++) ss += x[r * C + c] ** 2;
    rstd[r] = 1 / Math.sqrt(ss / C + eps);
    for (let c = 0; c < C; c++) y[r * C + c] = x[r * C + c] * rstd[r] * w[c];
  }
  return { y, rstd };
}

/** LayerNorm: y = (x − mean) · rstd · w + b, rstd = 1/√(mean((x − mean)²) + eps). */
export function layerNormRef(x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number>, rows: number, C: number, eps: number) {
  const y = new Float64Array(rows * C);
  const mean = new Float64Array(rows);
  const rstd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0; c < C; c++) s += x[r * C + c];
    mean[r] = s / C;
    let v = 0;
    for (let c = 0; c < C; c++) v += (x[r * C + c] - mean[r]) ** 2;
    rstd[r] = 1 / Math.sqrt(v / C + eps);
    for (let c = 0; c < C; c++) y[r * C + c] = (x[r * C + c] - mean[r]) * rstd[r] * w[c] + b[c];
  }
  return { y, mean, rstd };
}

/** Gradients of L = Σ dy ⊙ rmsNorm(x, w). */
export function rmsNormBackwardRef(dy: ArrayLike<number>, x: ArrayLike<number>, w: ArrayLike<number>, rows: number, C: number, eps: number) {
  const { rstd } = rmsNormRef(x, w, rows, C, eps);
  const dx = new Float64Array(rows * C);
  const dw = new Float64Array(C);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0; c < C; c++) s += dy[r * C + c] * w[c] * x[r * C + c];
    const k = (rstd[r] ** 2 * s) / C;
    for (let c = 0; c < C; c++) {
      dx[r * C + c] = rstd[r] * (dy[r * C + c] * w[c] - x[r * C + c] * k);
      dw[c] += dy[r * C + c] * x[r * C + c] * rstd[r];
    }
  }
  return { dx, dw };
}

/** Gradients of L = Σ dy ⊙ layerNorm(x, w, b). */
export function layerNormBackwardRef(dy: ArrayLike<number>, x: ArrayLike<number>, w: ArrayLike<number>, rows: number, C: number, eps: number) {
  const { mean, rstd } = layerNormRef(x, w, new Float64Array(C), rows, C, eps);
  const dx = new Float64Array(rows * C);
  const dw = new Float64Array(C);
  const db = new Float64Array(C);
  for (let r = 0; r < rows; r++) {
    let sg = 0;
    let sgx = 0;
    for (let c = 0; c < C; c++) {
      const xh = (x[r * C + c] - mean[r]) * rstd[r];
      const g = dy[r * C + c] * w[c];
      sg += g;
      sgx += g * xh;
      dw[c] += dy[r * C + c] * xh;
      db[c] += dy[r * C + c];
    }
    for (let c = 0; c < C; c++) {
      const xh = (x[r * C + c] - mean[r]) * rstd[r];
      dx[r * C + c] = rstd[r] * (dy[r * C + c] * w[c] - sg / C - xh * (sgx / C));
    }
  }
  return { dx, dw, db };
}
