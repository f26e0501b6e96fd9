// One LoRA adapter on a linear layer (Hu et al. 2021): y += s·(x·Aᵀ)·Bᵀ with A (r, in),
// B (out, r), s = alpha / r (rsLoRA: alpha / √r). The base weight, f32 or quantized, is
// never differentiated: backward gives dA, dB and adds the adapter's path to dx.
// With `dora` the layers get DoraLinear adapters instead (./dora.ts): the same A and B
// plus a trained magnitude per output row.

import type { GpuBuf } from '../../gpu/arena.ts';
import { matmul } from '../../kernels/matmul.ts';
import type { Grads, Linear, LinearAdapter, PassContext } from '../../model/decoder.ts';
import type { ModelSpec } from '../../model/config.ts';
import type { CausalLM } from '../../model/load.ts';
import type { LinearShape } from '../../model/memory.ts';
import { ConfigError } from '../../config/schema.ts';
import { selectLinears } from '../targets.ts';
import { baseRowSumsq, DoraLinear, doraMergedWeight, initMagnitude } from './dora.ts';

/** The adapter settings PEFT's LoraConfig records. */
export interface LoraShape {
  rank: number;
  alpha: number;
  targets: string[];
  rslora: boolean;
  /** DoRA (PEFT use_dora): a trained magnitude per output row over the normalised W + s·B·A. */
  dora?: boolean;
}

export const loraScale = (c: LoraShape) => (c.rslora ? c.alpha / Math.sqrt(c.rank) : c.alpha / c.rank);

export class LoraLinear implements LinearAdapter {
  /** x·Aᵀ of the last saving forward, for backward.  (N, r) */
  private saved: GpuBuf | undefined;

  constructor(
    readonly layer: Linear,
    readonly A: GpuBuf, // (r, in)
    readonly B: GpuBuf, // (out, r)
    readonly r: number,
    readonly scale: number,
  ) {}

  get nameA(): string {
    return `${this.layer.name}.lora_A.weight`;
  }

  get nameB(): string {
    return `${this.layer.name}.lora_B.weight`;
  }

  async forward(ctx: PassContext, x: GpuBuf, y: GpuBuf, N: number): Promise<void> {
    const { r } = this;
    const { in: K, out } = this.layer;
    const u = await ctx.run.alloc('activations', N * r * 4, `lora.u ${this.layer.name}`); // (N, r)
    matmul(ctx.gpu, x, this.A, u, { layout: 'NT', M: N, N: r, K });
    matmul(ctx.gpu, u, this.B, y, { layout: 'NT', M: N, N: out, K: r, alpha: this.scale, beta: 1 });
    this.saved = ctx.save ? u : undefined;
  }

  async backward(ctx: PassContext, x: GpuBuf, dy: GpuBuf, dx: GpuBuf | undefined, N: number, grads: Grads): Promise<void> {
    const u = this.saved;
    if (!u) throw new Error(`LoRA ${this.layer.name}: backward without a saving forward`);
    this.saved = undefined;
    const g = ctx.gpu;
    const { r, scale } = this;
    const { in: K, out } = this.layer;
    if (grads.wanted(this.nameB)) matmul(g, dy, u, await grads.get(this.nameB, out * r), { layout: 'TN', M: out, N: r, K: N, alpha: scale });
    const du = await ctx.run.alloc('activations', N * r * 4, `lora.du ${this.layer.name}`); // (N, r) = s·dy·B
    matmul(g, dy, this.B, du, { layout: 'NN', M: N, N: r, K: out, alpha: scale });
    if (grads.wanted(this.nameA)) matmul(g, du, x, await grads.get(this.nameA, r * K), { layout: 'TN', M: r, N: K, K: N });
    if (dx) matmul(g, du, this.A, dx, { layout: 'NN', M: N, N: K, K: r, beta: 1 });
  }
}

/** ΔW = s·B·A in the layer's storage order ((out, in), or (in, out) for Conv1D).  a: (r, in), b: (out, r) */
export function loraDelta(a: Float32Array, b: Float32Array, r: number, out: number, inp: number, scale: number, layout: 'out-in' | 'in-out'): Float64Array {
  const d = new Float64Array(out * inp);
  for (let o = 0; o < out; o++) {
    for (let k = 0; k < r; k++) {
      const bo = scale * b[o * r + k];
      if (bo === 0) continue;
      for (let i = 0; i < inp; i++) d[layout === 'out-in' ? o * inp + i : i * out + o] += bo * a[k * inp + i];
    }
  }
  return d;
}

/** A LoRA or a DoRA adapter. */
export type LowRankLinear = LoraLinear | DoraLinear;

/** A set of adapters hung on a model's layers; `detach` takes them off and frees them. */
export class LoraSet {
  constructor(
    readonly cfg: LoraShape,
    readonly adapters: LowRankLinear[],
    private readonly buffers: GpuBuf[],
  ) {}

  /** Every A and B (and DoRA magnitude) as trainable tensors, named as the model's backward
   *  names their gradients. */
  params(): { name: string; buf: GpuBuf; n: number }[] {
    return this.adapters.flatMap((a) => [
      { name: a.nameA, buf: a.A, n: a.r * a.layer.in },
      { name: a.nameB, buf: a.B, n: a.layer.out * a.r },
      ...(a instanceof DoraLinear ? [{ name: a.nameM, buf: a.m, n: a.layer.out }] : []),
    ]);
  }

  /** Fold s·B·A (DoRA: W' = (m / n) ⊙ (W + s·B·A), n its row norms, in f64) into f32 base
   *  weights and take the adapters off. Biases are unchanged. */
  async merge(model: CausalLM): Promise<void> {
    const g = model.gpu;
    const what = this.cfg.dora ? 'DoRA' : 'LoRA';
    for (const a of this.adapters) {
      const w = a.layer.w;
      if (w.kind !== 'f32') throw new ConfigError(`merging ${what} needs an f32 base; ${a.layer.name} is quantized (export the adapter, or load the base in f32 to merge)`);
    }
    for (const a of this.adapters) {
      const w = a.layer.w;
      if (w.kind !== 'f32') continue;
      const d = loraDelta(await g.readF32(a.A), await g.readF32(a.B), a.r, a.layer.out, a.layer.in, a.scale, w.layout);
      const base = await g.readF32(w.buf);
      if (a instanceof DoraLinear) g.write(w.buf, Float32Array.from(doraMergedWeight(base, d, await g.readF32(a.m), a.layer.out, a.layer.in, w.layout)));
      else {
        for (let i = 0; i < base.length; i++) base[i] += d[i];
        g.write(w.buf, base);
      }
    }
    this.detach();
  }

  detach(): void {
    for (const a of this.adapters) if (a.layer.adapter === a) a.layer.adapter = undefined;
    for (const b of this.buffers) b.release();
    this.buffers.length = 0;
  }
}

/** The layers cfg.targets names, checked against the architecture (known modules, rank
 *  within each layer) before any GPU work. */
export function checkLora(spec: ModelSpec, cfg: LoraShape): LinearShape[] {
  const shapes = selectLinears(spec, cfg.targets);
  for (const l of shapes) {
    if (cfg.rank > Math.min(l.in, l.out)) throw new ConfigError(`--rank ${cfg.rank} is larger than ${l.name} (${l.out}×${l.in}) allows (at most ${Math.min(l.in, l.out)})`);
  }
  return shapes;
}

/**
 * Adapters on the model's layers named by cfg.targets (checked: known modules, rank within
 * each layer), A and B in the 'adapter' category, their values from `init`. With cfg.dora
 * each also gets its magnitude m (out, trained) and the base's ‖W_o‖² (out, constant), both
 * 'adapter'; m starts at ‖W_o‖ before `init` runs, which may overwrite it (an import).
 */
export async function attachLora(
  model: CausalLM, cfg: LoraShape, init: (l: Linear, A: GpuBuf, B: GpuBuf, index: number, m?: GpuBuf) => Promise<void>,
): Promise<LoraSet> {
  const shapes = checkLora(model.spec, cfg);
  const kinds = new Set(shapes.map((l) => l.kind));
  const layers = [...model.linears.values()].filter((l) => kinds.has(l.name.slice(l.name.lastIndexOf('.') + 1)));
  const buffers: GpuBuf[] = [];
  const adapters: LowRankLinear[] = [];
  const g = model.gpu;
  const tmp = g.arena.child(); // DoRA on a quantized base: one-hot blocks that read W's rows
  try {
    for (const [i, l] of layers.entries()) {
      if (l.adapter) throw new ConfigError(`${l.name} already has an adapter (dispose the other run's state first)`);
      const A = await g.arena.alloc('adapter', cfg.rank * l.in * 4, `${l.name}.lora_A`);
      const B = await g.arena.alloc('adapter', l.out * cfg.rank * 4, `${l.name}.lora_B`);
      buffers.push(A, B);
      if (!cfg.dora) {
        await init(l, A, B, i);
        adapters.push(new LoraLinear(l, A, B, cfg.rank, loraScale(cfg)));
        continue;
      }
      const m = await g.arena.alloc('adapter', l.out * 4, `${l.name}.lora_magnitude_vector`);
      const w2 = await g.arena.alloc('adapter', l.out * 4, `${l.name}.dora.w2`);
      buffers.push(m, w2);
      const a = new DoraLinear(l, A, B, cfg.rank, loraScale(cfg), m, w2);
      await baseRowSumsq(g, l, w2, tmp);
      initMagnitude(g, a);
      await init(l, A, B, i, m);
      adapters.push(a);
    }
  } catch (e) {
    g.submit();
    tmp.dispose();
    for (const b of buffers) b.release();
    throw e;
  }
  g.submit(); // the one-hot reads are recorded: submit before their buffers go
  tmp.dispose();
  for (const a of adapters) a.layer.adapter = a;
  return new LoraSet(cfg, adapters, buffers);
}
