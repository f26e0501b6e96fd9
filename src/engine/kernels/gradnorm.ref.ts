// Reference for gradnorm.ts (f64).

export function gradNormRef(grads: readonly ArrayLike<number>[], maxNorm: number): { norm: number; scale: number } {
  let s = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) s += g[i] * g[i];
  const norm = Math.sqrt(s);
  return { norm, scale: maxNorm > 0 ? Math.min(1, maxNorm / (norm + 1e-6)) : 1 };
}
