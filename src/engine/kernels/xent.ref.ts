// Plain-loop reference for xent.ts over full (rows, V) logits (f64).

export function xentRef(logits: ArrayLike<number>, targets: ArrayLike<number>, mask: ArrayLike<number>, rows: number, V: number) {
  const loss = new Float64Array(rows);
  const lse = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let m = -Infinity;
    for (let j = 0; j < V; j++) m = Math.max(m, logits[r * V + j]);
    let s = 0;
    for (let j = 0; j < V; j++) s += Math.exp(logits[r * V + j] - m);
    lse[r] = m + Math.log(s);
    loss[r] = mask[r] ? lse[r] - logits[r * V + targets[r]] : 0;
  }
  return { loss, lse };
}

/** d(scale · Σ loss)/dlogits. */
export function xentBackwardRef(logits: ArrayLike<number>, targets: ArrayLike<number>, mask: ArrayLike<number>, rows: number, V: number, scale: number): Float64Array {
  const { lse } = xentRef(logits, targets, mask, rows, V);
  const d = new Float64Array(rows * V);
  for (let r = 0; r < rows; r++) {
    if (!mask[r]) continue;
    for (let j = 0; j < V; j++) d[r * V + j] = (Math.exp(logits[r * V + j] - lse[r]) - (j === targets[r] ? 1 : 0)) * scale;
  }
  return d;
}
