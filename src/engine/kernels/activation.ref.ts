// Plain-loop references for activation.ts (f64).
//
// GELU is GPT-2's tanh approximation ("gelu_new"): 0.5·x·(1 + tanh(z)), z = √(2/π)(x + 0.044715x³).
// It is evaluated as x·σ(2z), the same function (1 + tanh z = 2σ(2z)), because 1 + tanh z
// cancels for x below about −6 even in f64; likewise 1 − tanh²z = 4σ(2z)(1 − σ(2z)).

const S = Math.sqrt(2 / Math.PI);
const A = 0.044715;

/** σ(t) without overflow. */
function sigmoid(t: number): number {
  if (t >= 0) return 1 / (1 + Math.exp(-t));
  const e = Math.exp(t);
  return e / (1 + e);
}

/** σ(t)(1 − σ(t)) without cancellation. */
function dsigmoid(t: number): number {
  const e = Math.exp(-Math.abs(t));
  return e / ((1 + e) * (1 + e));
}

/** h = silu(g) ⊙ u.  g, u: (n) */
export function swigluRef(g: ArrayLike<number>, u: ArrayLike<number>): Float64Array {
  return Float64Array.from({ length: g.length }, (_, i) => g[i] * sigmoid(g[i]) * u[i]);
}

/** Gradients of L = Σ dh ⊙ swiglu(g, u). */
export function swigluBackwardRef(dh: ArrayLike<number>, g: ArrayLike<number>, u: ArrayLike<number>) {
  const dg = new Float64Array(g.length);
  const du = new Float64Array(g.length);
  for (let i = 0; i < g.length; i++) {
    const s = sigmoid(g[i]);
    const ds = dsigmoid(g[i]);
    dg[i] = dh[i] * u[i] * (s + (ds === 0 ? 0 : g[i] * ds));
    du[i] = dh[i] * g[i] * s;
  }
  return { dg, du };
}

/** y = 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))), as x·σ(2z).  x: (n) */
export function geluRef(x: ArrayLike<number>): Float64Array {
  return Float64Array.from({ length: x.length }, (_, i) => x[i] * sigmoid(2 * S * (x[i] + A * x[i] ** 3)));
}

/** dx of L = Σ dy ⊙ gelu(x): dy·(σ(2z) + 2x·σ(2z)(1 − σ(2z))·√(2/π)(1 + 3·0.044715x²)). */
export function geluBackwardRef(dy: ArrayLike<number>, x: ArrayLike<number>): Float64Array {
  return Float64Array.from({ length: x.length }, (_, i) => {
    const z = S * (x[i] + A * x[i] ** 3);
    const ds = dsigmoid(2 * z);
    return dy[i] * (sigmoid(2 * z) + (ds === 0 ? 0 : 2 * x[i] * ds * S * (1 + 3 * A * x[i] ** 2)));
  });
}
