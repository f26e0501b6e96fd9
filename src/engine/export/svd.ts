// Small dense linear algebra in f64 for the adapter converters (squeeze.ts, to-lora.ts):
// Householder QR, one-sided Jacobi SVD, and a randomized truncated SVD (Halko, Martinsson &
// Tropp 2011) of a matrix seen only through products A·X and Aᵀ·Y, so a big ΔW is never
// decomposed densely. Every matrix is row-major Float64Array; shapes in the comments.

import { gaussian } from '../rng/philox.ts';

/** Thin QR of a (m, n), m ≥ n, by Householder reflections: a = q·r, q (m, n) with
 *  orthonormal columns (also where a is rank-deficient), r (n, n) upper triangular. */
export function qr(a: Float64Array, m: number, n: number): { q: Float64Array; r: Float64Array } {
  if (m < n) throw new Error(`qr: (${m}, ${n}) needs rows ≥ columns`);
  const w = Float64Array.from(a); // (m, n), reduced in place to R on top
  const vs: Float64Array[] = [];
  const betas: number[] = [];
  for (let k = 0; k < n; k++) {
    const len = m - k;
    const v = new Float64Array(len);
    let norm2 = 0;
    for (let i = 0; i < len; i++) norm2 += (v[i] = w[(k + i) * n + k]) ** 2;
    const norm = Math.sqrt(norm2);
    if (norm === 0) {
      vs.push(v);
      betas.push(0);
      continue;
    }
    const alpha = v[0] > 0 ? -norm : norm;
    v[0] -= alpha;
    let vn2 = 0;
    for (let i = 0; i < len; i++) vn2 += v[i] * v[i];
    const beta = vn2 > 0 ? 2 / vn2 : 0;
    for (let j = k; j < n; j++) {
      let dot = 0;
      for (let i = 0; i < len; i++) dot += v[i] * w[(k + i) * n + j];
      const f = beta * dot;
      if (f !== 0) for (let i = 0; i < len; i++) w[(k + i) * n + j] -= f * v[i];
    }
    vs.push(v);
    betas.push(beta);
  }
  const r = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) r[i * n + j] = w[i * n + j];
  // q = H_0 H_1 … H_{n-1} · I[:, :n], applied from the last reflector back.
  const q = new Float64Array(m * n);
  for (let i = 0; i < n; i++) q[i * n + i] = 1;
  for (let k = n - 1; k >= 0; k--) {
    const v = vs[k];
    const beta = betas[k];
    if (beta === 0) continue;
    for (let j = 0; j < n; j++) {
      let dot = 0;
      for (let i = 0; i < m - k; i++) dot += v[i] * q[(k + i) * n + j];
      const f = beta * dot;
      if (f !== 0) for (let i = 0; i < m - k; i++) q[(k + i) * n + j] -= f * v[i];
    }
  }
  return { q, r };
}

export interface Svd {
  /** (m, n) left singular vectors as columns (a column is 0 where σ is 0). */
  u: Float64Array;
  /** (n) singular values, descending. */
  s: Float64Array;
  /** (n, n) right singular vectors as columns. */
  v: Float64Array;
}

/**
 * SVD of a (m, n), m ≥ n, by one-sided Jacobi (Hestenes): plane rotations orthogonalise the
 * columns of a·V until every pair is orthogonal to ~1e-15; σ_j are then the column norms.
 * O(sweeps · n² · m); accurate to working precision even for tiny σ. Fine for n ≤ a few hundred.
 */
export function jacobiSvd(a: Float64Array, m: number, n: number): Svd {
  if (m < n) throw new Error(`jacobiSvd: (${m}, ${n}) needs rows ≥ columns`);
  // Columns stored contiguously: ut (n, m) = aᵀ, vt (n, n) = Vᵀ.
  const ut = new Float64Array(n * m);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) ut[j * m + i] = a[i * n + j];
  const vt = new Float64Array(n * n);
  for (let j = 0; j < n; j++) vt[j * n + j] = 1;
  const eps = 1e-15;
  for (let sweep = 0; sweep < 80; sweep++) {
    let rotated = false;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        let al = 0;
        let be = 0;
        let ga = 0;
        const op = p * m;
        const oq = q * m;
        for (let i = 0; i < m; i++) {
          const x = ut[op + i];
          const y = ut[oq + i];
          al += x * x;
          be += y * y;
          ga += x * y;
        }
        if (ga === 0 || Math.abs(ga) <= eps * Math.sqrt(al * be)) continue;
        rotated = true;
        const zeta = (be - al) / (2 * ga);
        const t = (zeta >= 0 ? 1 : -1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = c * t;
        for (let i = 0; i < m; i++) {
          const x = ut[op + i];
          const y = ut[oq + i];
          ut[op + i] = c * x - s * y;
          ut[oq + i] = s * x + c * y;
        }
        const vp = p * n;
        const vq = q * n;
        for (let i = 0; i < n; i++) {
          const x = vt[vp + i];
          const y = vt[vq + i];
          vt[vp + i] = c * x - s * y;
          vt[vq + i] = s * x + c * y;
        }
      }
    }
    if (!rotated) break;
  }
  const sig = Array.from({ length: n }, (_, j) => {
    let s2 = 0;
    for (let i = 0; i < m; i++) s2 += ut[j * m + i] ** 2;
    return Math.sqrt(s2);
  });
  const order = sig.map((_, j) => j).sort((x, y) => sig[y] - sig[x]);
  const u = new Float64Array(m * n);
  const v = new Float64Array(n * n);
  const s = new Float64Array(n);
  order.forEach((j, k) => {
    s[k] = sig[j];
    const inv = sig[j] > 0 ? 1 / sig[j] : 0;
    for (let i = 0; i < m; i++) u[i * n + k] = ut[j * m + i] * inv;
    for (let i = 0; i < n; i++) v[i * n + k] = vt[j * n + i];
  });
  return { u, s, v };
}

/** c (m, n) = a (m, k) · b (k, n). */
export function matmul(a: Float64Array, b: Float64Array, m: number, k: number, n: number): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let p = 0; p < k; p++) {
      const x = a[i * k + p];
      if (x === 0) continue;
      for (let j = 0; j < n; j++) c[i * n + j] += x * b[p * n + j];
    }
  }
  return c;
}

/** (n, m) = aᵀ of a (m, n). */
export function transpose(a: ArrayLike<number>, m: number, n: number): Float64Array {
  const t = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) t[j * m + i] = a[i * n + j];
  return t;
}

/** A matrix (rows, cols) known through its products: what randomized SVD needs. */
export interface LinearOperator {
  rows: number;
  cols: number;
  /** A·X, X (cols, k) → (rows, k). */
  mul(x: Float64Array, k: number): Float64Array;
  /** Aᵀ·Y, Y (rows, k) → (cols, k). */
  mulT(y: Float64Array, k: number): Float64Array;
  /** ‖A‖_F². */
  frob2: number;
}

/** A dense (rows, cols) matrix, row-major (f32 storage, f64 arithmetic). */
export function denseOperator(a: Float32Array | Float64Array, rows: number, cols: number): LinearOperator {
  let frob2 = 0;
  for (let i = 0; i < a.length; i++) frob2 += a[i] * a[i];
  return {
    rows, cols, frob2,
    mul(x, k) {
      const y = new Float64Array(rows * k);
      for (let i = 0; i < rows; i++) {
        for (let j = 0; j < cols; j++) {
          const w = a[i * cols + j];
          if (w === 0) continue;
          for (let c = 0; c < k; c++) y[i * k + c] += w * x[j * k + c];
        }
      }
      return y;
    },
    mulT(y, k) {
      const x = new Float64Array(cols * k);
      for (let i = 0; i < rows; i++) {
        for (let j = 0; j < cols; j++) {
          const w = a[i * cols + j];
          if (w === 0) continue;
          for (let c = 0; c < k; c++) x[j * k + c] += w * y[i * k + c];
        }
      }
      return x;
    },
  };
}

/** A sparse (rows, cols) matrix of K entries (row[i], col[i]) = val[i] (duplicates add). */
export function sparseOperator(row: ArrayLike<number>, col: ArrayLike<number>, val: ArrayLike<number>, rows: number, cols: number): LinearOperator {
  // ‖A‖_F² of the summed entries (an entry listed twice counts once, with its sum).
  const sums = new Map<number, number>();
  for (let i = 0; i < val.length; i++) {
    const key = row[i] * cols + col[i];
    sums.set(key, (sums.get(key) ?? 0) + val[i]);
  }
  let frob2 = 0;
  for (const v of sums.values()) frob2 += v * v;
  return {
    rows, cols, frob2,
    mul(x, k) {
      const y = new Float64Array(rows * k);
      for (let i = 0; i < val.length; i++) {
        const w = val[i];
        const yo = row[i] * k;
        const xo = col[i] * k;
        for (let c = 0; c < k; c++) y[yo + c] += w * x[xo + c];
      }
      return y;
    },
    mulT(y, k) {
      const x = new Float64Array(cols * k);
      for (let i = 0; i < val.length; i++) {
        const w = val[i];
        const yo = row[i] * k;
        const xo = col[i] * k;
        for (let c = 0; c < k; c++) x[xo + c] += w * y[yo + c];
      }
      return x;
    },
  };
}

export interface RandomizedSvdOptions {
  /** Extra test vectors beyond k (default 10). */
  oversample?: number;
  /** Power (subspace) iterations, each re-orthonormalised by QR (default 2). */
  powerIters?: number;
  /** Seed of the Gaussian test matrix (Philox, as the GPU's rng kernels draw it). */
  seed?: number;
  /** Philox stream: one per module keeps their test matrices independent. */
  stream?: number;
}

export interface TruncatedSvd {
  k: number;
  /** (rows, k) orthonormal columns. */
  u: Float64Array;
  /** (k) descending. */
  s: Float64Array;
  /** (cols, k) orthonormal columns. */
  v: Float64Array;
}

/**
 * Rank-k truncated SVD A ≈ U·diag(s)·Vᵀ (Halko et al. 2011, algorithms 4.4 + 5.1):
 * Y = A·Ω with Ω (cols, l) Gaussian, l = min(k + oversample, rows, cols); `powerIters` rounds
 * of Q = qr(A·qr(Aᵀ·Q)) sharpen the subspace; then Z = Aᵀ·Q (cols, l) = U_z Σ V_zᵀ by Jacobi,
 * so A ≈ Q·Qᵀ·A = (Q·V_z)·Σ·U_zᵀ. The result is an orthogonal projection of A, so
 * ‖A − U·diag(s)·Vᵀ‖_F² = ‖A‖_F² − Σ s_i² exactly. With l = min(rows, cols) it is exact.
 * Cost: (2·powerIters + 2) products with l vectors and QRs of (·, l); nothing dense of A.
 */
export function randomizedSvd(a: LinearOperator, k: number, o: RandomizedSvdOptions = {}): TruncatedSvd {
  const { rows: m, cols: n } = a;
  const full = Math.min(m, n);
  if (!(Number.isInteger(k) && k >= 1 && k <= full)) throw new Error(`randomizedSvd: rank ${k} must be in 1..${full}`);
  const l = Math.min(full, k + (o.oversample ?? 10));
  const seed = o.seed ?? 0;
  const stream = o.stream ?? 0;
  const omega = new Float64Array(n * l);
  for (let i = 0; i < omega.length; i++) omega[i] = gaussian(seed, i, stream);
  let q = qr(a.mul(omega, l), m, l).q; // (m, l)
  for (let it = 0; it < (o.powerIters ?? 2); it++) {
    const z = qr(a.mulT(q, l), n, l).q; // (n, l)
    q = qr(a.mul(z, l), m, l).q;
  }
  const z = a.mulT(q, l); // (n, l) = Aᵀ·Q
  const svd = jacobiSvd(z, n, l); // z = U_z Σ V_zᵀ
  const left = matmul(q, svd.v, m, l, l); // (m, l) = Q·V_z
  const u = new Float64Array(m * k);
  const v = new Float64Array(n * k);
  for (let i = 0; i < m; i++) for (let j = 0; j < k; j++) u[i * k + j] = left[i * l + j];
  for (let i = 0; i < n; i++) for (let j = 0; j < k; j++) v[i * k + j] = svd.u[i * l + j];
  return { k, u, s: svd.s.slice(0, k), v };
}
