// Plain-loop reference for attention.ts (f64), materialising the scores: for each (b, h) the
// (T, Tk) causal probabilities P (query i sees keys 0 ..= Tk − T + i) by a max-subtracted
// softmax, O = P V, LSE = log Σ exp(scores); the backward by the textbook formulas
// dV = Pᵀ dO, dP = dO Vᵀ, dS = P ⊙ (dP − rowsum(P ⊙ dP)), dQ = scale dS K, dK = scale dSᵀ Q.
// q, o, dO: (B, T, Hq, D); k, v: (B, Tk, Hkv, D); lse: (B, Hq, T).

import type { AttentionShape } from './attention.ts';

function idx(s: AttentionShape) {
  return {
    q: (b: number, i: number, h: number) => ((b * s.T + i) * s.Hq + h) * s.D,
    k: (b: number, j: number, g: number) => ((b * s.Tk + j) * s.Hkv + g) * s.D,
    scale: s.scale ?? 1 / Math.sqrt(s.D),
    off: s.Tk - s.T,
    group: s.Hq / s.Hkv,
  };
}

/** P for one (b, h): (T, Tk) with zeros above the causal diagonal, and LSE. */
function probs(q: ArrayLike<number>, k: ArrayLike<number>, s: AttentionShape, b: number, h: number) {
  const ix = idx(s);
  const g = Math.floor(h / ix.group);
  const P = new Float64Array(s.T * s.Tk);
  const lse = new Float64Array(s.T);
  for (let i = 0; i < s.T; i++) {
    const last = Math.min(ix.off + i, s.Tk - 1);
    let m = -Infinity;
    const row = new Float64Array(last + 1);
    for (let j = 0; j <= last; j++) {
      let d = 0;
      for (let c = 0; c < s.D; c++) d += q[ix.q(b, i, h) + c] * k[ix.k(b, j, g) + c];
      row[j] = d * ix.scale;
      m = Math.max(m, row[j]);
    }
    let sum = 0;
    for (let j = 0; j <= last; j++) sum += Math.exp(row[j] - m);
    lse[i] = m + Math.log(sum);
    for (let j = 0; j <= last; j++) P[i * s.Tk + j] = Math.exp(row[j] - lse[i]);
  }
  return { P, lse, g };
}

export function attentionRef(q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>, s: AttentionShape) {
  const ix = idx(s);
  const o = new Float64Array(s.B * s.T * s.Hq * s.D);
  const lse = new Float64Array(s.B * s.Hq * s.T);
  for (let b = 0; b < s.B; b++)
    for (let h = 0; h < s.Hq; h++) {
      const r = probs(q, k, s, b, h);
      for (let i = 0; i < s.T; i++) {
        lse[(b * s.Hq + h) * s.T + i] = r.lse[i];
        for (let j = 0; j < s.Tk; j++) {
          const pij = r.P[i * s.Tk + j];
          if (pij) for (let c = 0; c < s.D; c++) o[ix.q(b, i, h) + c] += pij * v[ix.k(b, j, r.g) + c];
        }
      }
    }
  return { o, lse };
}

/** Gradients of L = Σ dO ⊙ attention(Q, K, V). */
export function attentionBackwardRef(q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>, dO: ArrayLike<number>, s: AttentionShape) {
  const ix = idx(s);
  const dq = new Float64Array(q.length);
  const dk = new Float64Array(k.length);
  const dv = new Float64Array(v.length);
  for (let b = 0; b < s.B; b++)
    for (let h = 0; h < s.Hq; h++) {
      const { P, g } = probs(q, k, s, b, h);
      for (let i = 0; i < s.T; i++) {
        const dP = new Float64Array(s.Tk);
        let rowDot = 0;
        for (let j = 0; j < s.Tk; j++) {
          if (!P[i * s.Tk + j]) continue;
          for (let c = 0; c < s.D; c++) dP[j] += dO[ix.q(b, i, h) + c] * v[ix.k(b, j, g) + c];
          rowDot += P[i * s.Tk + j] * dP[j];
        }
        for (let j = 0; j < s.Tk; j++) {
          const pij = P[i * s.Tk + j];
          if (!pij) continue;
          const ds = pij * (dP[j] - rowDot) * ix.scale;
          for (let c = 0; c < s.D; c++) {
            dq[ix.q(b, i, h) + c] += ds * k[ix.k(b, j, g) + c];
            dk[ix.k(b, j, g) + c] += ds * q[ix.q(b, i, h) + c];
            dv[ix.k(b, j, g) + c] += pij * dO[ix.q(b, i, h) + c];
          }
        }
      }
    }
  return { dq, dk, dv };
}
