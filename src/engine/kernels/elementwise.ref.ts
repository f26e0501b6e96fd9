// Plain-loop references for elementwise.ts: they define what the kernels compute.

export function axpbyRef(x: ArrayLike<number>, y: ArrayLike<number>, alpha: number, beta: number): Float64Array {
  const out = new Float64Array(y.length);
  for (let i = 0; i < y.length; i++) out[i] = alpha * x[i] + (beta !== 0 ? beta * y[i] : 0);
  return out;
}

export function mulRef(x: ArrayLike<number>, y: ArrayLike<number>): Float64Array {
  const out = new Float64Array(y.length);
  for (let i = 0; i < y.length; i++) out[i] = x[i] * y[i];
  return out;
}

export function biasAddRef(b: ArrayLike<number>, y: ArrayLike<number>, cols: number): Float64Array {
  return Float64Array.from({ length: y.length }, (_, i) => y[i] + b[i % cols]);
}

export function copy2dRef(x: ArrayLike<number>, y: ArrayLike<number>, s: { rows: number; cols: number; srcStride: number; srcOff: number; dstStride: number; dstOff: number }): Float64Array {
  const out = Float64Array.from(y);
  for (let r = 0; r < s.rows; r++) for (let c = 0; c < s.cols; c++) out[r * s.dstStride + s.dstOff + c] = x[r * s.srcStride + s.srcOff + c];
  return out;
}
