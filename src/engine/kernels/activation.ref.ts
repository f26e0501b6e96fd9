// Plain-loop references for activation.ts (f64).

const S = Math.sqrt(2 / Math.PI);
const A = 0.044715;
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

export function swigluRef(g: ArrayLike<number>, u: ArrayLike<number>): Float64Array {
  return Float64Array.from({ length: g.length }, (_, i) => g[i] * sigmoid(g[i]) * u[i]);
}

export function swigluBackwardRef(dh: ArrayLike<number>, g: ArrayLike<number>, u: ArrayLike<number>) {
  const dg = new Float64Array(g.length);
  const du = new Float64Array(g.length);
  for (let i = 0; i < g.length; i++) {
    const s = sigmoid(g[i]);
    dg[i] = dh[i] * u[i] * s * (1 + g[i] * (1 - s));
    du[i] = dh[i] * g[i] * s;
  }
  return { dg, du };
}

export function geluRef(x: ArrayLike<number>): Float64Array {
  return Float64Array.from({ length: x.length }, (_, i) => 0.5 * x[i] * (1 + Math.tanh(S * (x[i] + A * x[i] ** 3))));
}

export function geluBackwardRef(dy: ArrayLike<number>, x: ArrayLike<number>): Float64Array {
  return Float64Array.from({ length: x.length }, (_, i) => {
    const t = Math.tanh(S * (x[i] + A * x[i] ** 3));
    return dy[i] * (0.5 * (1 + t) + 0.5 * x[i] * (1 - t * t) * S * (1 + 3 * A * x[i] ** 2));
  });
}
