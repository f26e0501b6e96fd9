// Reference for gradnorm.ts (f64): PyTorch clip_grad_norm_ (norm_type 2) over all gradients.

export function gradNormRef(grads: readonly ArrayLike<number>[], maxNorm: number): { norm: number; scale: number } {
  let s = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) s += g[i] * g[i];
  const norm = Math.sqrt(s);
  if (!Number.isFinite(norm)) return { norm, scale: 0 };
  return { norm, scale: maxNorm > 0 ? Math.min(1, maxNorm / (norm + 1e-6)) : 1 };
}

/** g · scale (applyClip). */
export function applyClipRef(g: ArrayLike<number>, scale: number): Float64Array {
  return Float64Array.from(g, (x) => x * scale);
}
