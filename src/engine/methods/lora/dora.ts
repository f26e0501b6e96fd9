// DoRA (Liu et al. 2024) on one linear layer, as Hugging Face PEFT implements it
// (`use_dora=True`, tuners/lora/dora.py DoraLinearLayer): the weight is split into a
// magnitude m (out) and a direction W + s·B·A normalised per output row,
//   W' = (m / n) ⊙ (W + s·B·A),   n_o = ‖W_o + s·(B·A)_o‖  (row o of the (out, in) weight),
//   y  = (m / n) ⊙ (x·Wᵀ + s·x·Aᵀ·Bᵀ) + b                    (the bias is not rescaled),
// with n DETACHED in backward (treated as a constant, DoRA §4.3; PEFT calls .detach()).
// PEFT's forward with dropout 0 takes the base output, subtracts the bias and adds
// (m/n − 1)·(base − b) + (m/n)·s·lora(x); this computes the same sum in one pass.
// m starts at ‖W_o‖ (PEFT: the norm of W + s·B·A with B = 0). On a quantized base W is the
// dequantized weight qmatmul sees: ‖W_o‖² is formed once at attach through qmatmul on
// one-hot rows; each forward needs only A·Wᵀ (r rows through the frozen weight), A·Aᵀ and
// B·(A·Aᵀ) for n, never B·A or a dequantized W.

import type { Arena, GpuBuf } from '../../gpu/arena.ts';
import type { Gpu } from '../../gpu/gpu.ts';
import { doraBackwardScale, doraCombine, doraMagnitudeGrad, doraNorm, doraSqrt, doraSumsq } from '../../kernels/dora.ts';
import { matmul } from '../../kernels/matmul.ts';
import { qmatmulBackward, qmatmulForward } from '../../kernels/quant.ts';
import type { Grads, Linear, LinearAdapter, PassContext } from '../../model/decoder.ts';

/** Rows of the one-hot blocks that read a quantized weight's rows at attach. */
export const DORA_ONEHOT_ROWS = 32;

/** A LoRA adapter's A and B (the same names and shapes as LoraLinear's) plus DoRA's magnitude. */
export class DoraLinear implements LinearAdapter {
  /** What the last saving forward kept for backward. */
  private kept: { u: GpuBuf; v: GpuBuf; c: GpuBuf; inv: GpuBuf } | undefined;

  constructor(
    readonly layer: Linear,
    readonly A: GpuBuf, // (r, in)
    readonly B: GpuBuf, // (out, r)
    readonly r: number,
    readonly scale: number,
    readonly m: GpuBuf, // (out) magnitude, trained
    readonly w2: GpuBuf, // (out) ‖W_o‖² of the frozen base, constant
  ) {}

  get nameA(): string {
    return `${this.layer.name}.lora_A.weight`;
  }

  get nameB(): string {
    return `${this.layer.name}.lora_B.weight`;
  }

  get nameM(): string {
    return `${this.layer.name}.lora_magnitude_vector`;
  }

  /** c = m / n and inv = 1 / n for the current A, B.  (out) each, in `run`. */
  async scales(g: Gpu, run: Arena): Promise<{ c: GpuBuf; inv: GpuBuf }> {
    const { r, scale: s, layer: l } = this;
    const { in: K, out } = l;
    const name = l.name;
    const P = await run.alloc('activations', r * out * 4, `dora.P ${name}`); // (r, out) = A·Wᵀ
    if (l.w.kind === 'quant') qmatmulForward(g, this.A, l.w.q, P, r);
    else if (l.w.layout === 'out-in') matmul(g, this.A, l.w.buf, P, { layout: 'NT', M: r, N: out, K });
    else matmul(g, this.A, l.w.buf, P, { layout: 'NN', M: r, N: out, K });
    const G = await run.alloc('activations', r * r * 4, `dora.G ${name}`); // (r, r) = A·Aᵀ
    matmul(g, this.A, this.A, G, { layout: 'NT', M: r, N: r, K });
    const H = await run.alloc('activations', out * r * 4, `dora.H ${name}`); // (out, r) = B·G
    matmul(g, this.B, G, H, { layout: 'NN', M: out, N: r, K: r });
    const c = await run.alloc('activations', out * 4, `dora.c ${name}`);
    const inv = await run.alloc('activations', out * 4, `dora.inv ${name}`);
    doraNorm(g, this.w2, this.B, P, H, this.m, c, inv, out, r, s);
    return { c, inv };
  }

  async forward(ctx: PassContext, x: GpuBuf, y: GpuBuf, N: number): Promise<void> {
    const g = ctx.gpu;
    const { r, scale: s, layer: l } = this;
    const { in: K, out } = l;
    const { c, inv } = await this.scales(g, ctx.run);
    const u = await ctx.run.alloc('activations', N * r * 4, `lora.u ${l.name}`); // (N, r) = x·Aᵀ
    matmul(g, x, this.A, u, { layout: 'NT', M: N, N: r, K });
    const v = await ctx.run.alloc('activations', N * out * 4, `dora.v ${l.name}`); // (N, out) = s·u·Bᵀ, then x·Wᵀ + s·u·Bᵀ
    matmul(g, u, this.B, v, { layout: 'NT', M: N, N: out, K: r, alpha: s });
    doraCombine(g, l.b, c, v, y, N, out); // y = c ⊙ (y − b + s·u·Bᵀ) + b
    this.kept = ctx.save ? { u, v, c, inv } : undefined;
  }

  async backward(ctx: PassContext, x: GpuBuf, dy: GpuBuf, dx: GpuBuf | undefined, N: number, grads: Grads): Promise<void> {
    const k = this.kept;
    if (!k) throw new Error(`DoRA ${this.layer.name}: backward without a saving forward`);
    this.kept = undefined;
    const g = ctx.gpu;
    const { r, scale: s, layer: l } = this;
    const { in: K, out } = l;
    if (grads.wanted(this.nameM)) doraMagnitudeGrad(g, dy, k.v, k.inv, await grads.get(this.nameM, out), N, out);
    const dv = await ctx.run.alloc('activations', N * out * 4, `dora.dv ${l.name}`); // (N, out) = c ⊙ dy
    const e = await ctx.run.alloc('activations', N * out * 4, `dora.e ${l.name}`); // (N, out) = (c − 1) ⊙ dy
    doraBackwardScale(g, dy, k.c, dv, e, N, out);
    if (grads.wanted(this.nameB)) matmul(g, dv, k.u, await grads.get(this.nameB, out * r), { layout: 'TN', M: out, N: r, K: N, alpha: s });
    const du = await ctx.run.alloc('activations', N * r * 4, `lora.du ${l.name}`); // (N, r) = s·dv·B
    matmul(g, dv, this.B, du, { layout: 'NN', M: N, N: r, K: out, alpha: s });
    if (grads.wanted(this.nameA)) matmul(g, du, x, await grads.get(this.nameA, r * K), { layout: 'TN', M: r, N: K, K: N });
    if (dx) {
      // The base's backward added dy·W; the rescaled base path needs (c − 1) ⊙ dy more.
      if (l.w.kind === 'quant') qmatmulBackward(g, e, l.w.q, dx, N, 1);
      else if (l.w.layout === 'out-in') matmul(g, e, l.w.buf, dx, { layout: 'NN', M: N, N: K, K: out, beta: 1 });
      else matmul(g, e, l.w.buf, dx, { layout: 'NT', M: N, N: K, K: out, beta: 1 });
      matmul(g, du, this.A, dx, { layout: 'NN', M: N, N: K, K: r, beta: 1 });
    }
  }
}

/** w2 ← ‖W_o‖² per output row of the layer's frozen weight; quantized weights are read
 *  through qmatmul on blocks of one-hot rows (W exactly as the forward decodes it), with
 *  temporaries in `tmp` under 'activations'. */
export async function baseRowSumsq(g: Gpu, l: Linear, w2: GpuBuf, tmp: Arena): Promise<void> {
  const { in: K, out } = l;
  if (l.w.kind === 'f32') {
    if (l.w.layout === 'out-in') doraSumsq(g, l.w.buf, w2, { rows: K, cols: out, sRow: 1, sCol: K });
    else doraSumsq(g, l.w.buf, w2, { rows: K, cols: out, sRow: out, sCol: 1 });
    return;
  }
  const R = Math.min(DORA_ONEHOT_ROWS, K);
  const eye = await tmp.alloc('activations', R * K * 4, `dora.onehot ${l.name}`); // (R, in)
  const rows = await tmp.alloc('activations', R * out * 4, `dora.rows ${l.name}`); // (R, out) = columns j0.. of W
  for (let j0 = 0; j0 < K; j0 += R) {
    const n = Math.min(R, K - j0);
    const e = new Float32Array(R * K);
    for (let j = 0; j < n; j++) e[j * K + j0 + j] = 1;
    g.write(eye, e);
    qmatmulForward(g, eye, l.w.q, rows, n);
    doraSumsq(g, rows, w2, { rows: n, cols: out, sRow: out, sCol: 1, beta: j0 === 0 ? 0 : 1 });
  }
}

/** m ← sqrt(w2): PEFT's initial magnitude ‖W + s·B·A‖ with B = 0. */
export function initMagnitude(g: Gpu, a: DoraLinear): void {
  doraSqrt(g, a.w2, a.m, a.layer.out);
}

/** W' = (m / n) ⊙ (W + d) in the layer's storage order, n the row norms of W + d, in f64.
 *  base, d: (out, in) or (in, out) per `layout`; m: (out) */
export function doraMergedWeight(base: ArrayLike<number>, d: ArrayLike<number>, m: ArrayLike<number>, out: number, inp: number, layout: 'out-in' | 'in-out'): Float64Array {
  const w = Float64Array.from(base, (x, i) => x + d[i]);
  const at = (o: number, i: number) => (layout === 'out-in' ? o * inp + i : i * out + o);
  for (let o = 0; o < out; o++) {
    let n2 = 0;
    for (let i = 0; i < inp; i++) n2 += w[at(o, i)] ** 2;
    const c = m[o] / Math.sqrt(n2);
    for (let i = 0; i < inp; i++) w[at(o, i)] *= c;
  }
  return w;
}
