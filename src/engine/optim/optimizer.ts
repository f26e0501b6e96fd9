// First-order optimizer state over named parameters (AdamW: m and v; SGD: a momentum buffer
// when momentum > 0), all under the ledger's 'optimizer' category, and the one step every
// first-order method shares: forward + backward per micro-batch, accumulate, clip, update.

import { MemoryPlan, type Arena, type GpuBuf } from '../gpu/arena.ts';
import type { Gpu } from '../gpu/gpu.ts';
import { axpby, scale } from '../kernels/elementwise.ts';
import { gradNorm, gradNormPartials } from '../kernels/gradnorm.ts';
import { adamwStep, sgdStep } from '../kernels/optim.ts';
import type { CausalLM } from '../model/load.ts';
import type { Batch, StepContext, StepResult, TrainedTensor } from './types.ts';
import type { TrainerConfig } from '../config/trainer.ts';

/** A trained tensor: its gradient arrives under `name` from the model's backward pass. */
export type TrainParam = TrainedTensor;

/** Bytes of optimizer state per trained value. */
export function optimizerBytesPerParam(c: Pick<TrainerConfig, 'optimizer' | 'momentum'>): number {
  return c.optimizer === 'adamw' ? 8 : c.momentum > 0 ? 4 : 0;
}

/** Bytes of optimizer state for `values` trained values (SGD without momentum still binds a
 *  4-byte placeholder). */
export function optimizerBytes(values: number, c: Pick<TrainerConfig, 'optimizer' | 'momentum'>): number {
  return values * optimizerBytesPerParam(c) + (c.optimizer === 'sgd' && c.momentum === 0 ? 4 : 0);
}

export class Optimizer {
  private readonly state = new Map<string, GpuBuf[]>();
  private t = 0;
  /** Gradients, loss rows and the clip factor of a step, planned once and reused. */
  readonly plan: MemoryPlan;
  /** The gradients of the second and later micro-batches, summed into the first's. */
  readonly microPlan: MemoryPlan;

  private constructor(
    private readonly gpu: Gpu,
    readonly params: readonly TrainParam[],
    private readonly cfg: TrainerConfig,
    /** SGD without momentum still binds a (never touched) buffer. */
    private readonly dummy: GpuBuf | undefined,
  ) {
    this.plan = new MemoryPlan(gpu.arena);
    this.microPlan = new MemoryPlan(gpu.arena);
  }

  static async create(gpu: Gpu, arena: Arena, params: readonly TrainParam[], cfg: TrainerConfig): Promise<Optimizer> {
    const dummy = cfg.optimizer === 'sgd' && cfg.momentum === 0 ? await arena.alloc('optimizer', 4, 'sgd.no-momentum') : undefined;
    const o = new Optimizer(gpu, params, cfg, dummy);
    const slots = cfg.optimizer === 'adamw' ? ['m', 'v'] : cfg.momentum > 0 ? ['momentum'] : [];
    for (const p of params) {
      const bufs: GpuBuf[] = [];
      for (const s of slots) {
        const b = await arena.alloc('optimizer', p.n * 4, `${s} ${p.name}`);
        gpu.write(b, new Float32Array(p.n));
        bufs.push(b);
      }
      o.state.set(p.name, bufs);
    }
    return o;
  }

  get stepCount(): number {
    return this.t;
  }

  /** Update every parameter that has a gradient.  clip: (2) = [norm, scale] from gradNorm. */
  update(grads: ReadonlyMap<string, GpuBuf>, lr: number, clip: GpuBuf): void {
    this.t++;
    const c = this.cfg;
    for (const p of this.params) {
      const g = grads.get(p.name);
      if (!g) continue;
      const s = this.state.get(p.name) ?? [];
      if (c.optimizer === 'adamw') {
        adamwStep(this.gpu, p.buf, g, s[0], s[1], p.n, this.t, { lr, beta1: c.beta1, beta2: c.beta2, eps: 1e-8, weightDecay: c.weightDecay }, clip);
      } else {
        const buf = s[0] ?? this.dummy;
        if (!buf) throw new Error('optimizer: SGD state missing');
        sgdStep(this.gpu, p.buf, g, buf, p.n, this.t === 1, { lr, momentum: c.momentum, dampening: 0, weightDecay: c.weightDecay, nesterov: false }, clip);
      }
    }
  }

  /** Host copies of the state (and the step count) for a checkpoint. */
  async save(into: Map<string, Float32Array>): Promise<void> {
    for (const [name, bufs] of this.state) for (const [i, b] of bufs.entries()) into.set(`optim.${i}.${name}`, await this.gpu.readF32(b));
    into.set('optim.step', Float32Array.of(this.t));
  }

  load(from: ReadonlyMap<string, Float32Array>): void {
    for (const [name, bufs] of this.state) {
      for (const [i, b] of bufs.entries()) {
        const v = from.get(`optim.${i}.${name}`);
        if (!v || v.length * 4 !== b.size) throw new Error(`checkpoint: optimizer state "optim.${i}.${name}" is missing or of the wrong size`);
        this.gpu.write(b, v);
      }
    }
    this.t = from.get('optim.step')?.[0] ?? 0;
  }

  dispose(): void {
    for (const bufs of this.state.values()) for (const b of bufs) b.release();
    this.dummy?.release();
    this.state.clear();
    this.plan.dispose();
    this.microPlan.dispose();
  }
}

/** Trained (mask = 1) positions of a micro-batch. */
export function maskedCount(b: Batch): number {
  let n = 0;
  for (let i = 0; i < b.mask.length; i++) if (b.mask[i]) n++;
  return n;
}

/**
 * One first-order optimizer step: loss and gradients of each micro-batch (only the
 * gradients `wanted` names), summed into the first micro-batch's weighted by each one's
 * share of the step's trained tokens (so accumulating k micro-batches gives the gradient
 * of one batch holding all of them, however the prompt mask splits them; the
 * `num_items_in_batch` fix of transformers), the global norm clipped to
 * trainer.maxGradNorm, then the optimizer's update. Gradients live only for the step.
 */
export async function firstOrderStep(
  model: CausalLM, opt: Optimizer, batches: readonly Batch[], ctx: StepContext, wanted: (name: string) => boolean,
): Promise<StepResult> {
  const gpu = model.gpu;
  const counts = batches.map(maskedCount);
  const total = counts.reduce((a, c) => a + c, 0);
  // Each micro-batch's mean loss and gradient weighted by its share of the trained tokens;
  // with none trained at all (nothing to weight by) equally.
  const weights = counts.map((c) => (total > 0 ? c / total : 1 / batches.length));
  // Everything the step allocates comes from the optimizer's plan: after the first step of a
  // shape, a step creates no buffer, awaits no error scope, submits once and maps one small
  // staging buffer (the loss rows of each micro-batch and the gradient norm).
  const run: Arena = opt.plan.begin();
  try {
    let acc: Map<string, GpuBuf> | undefined;
    const lossParts: { rows: GpuBuf; n: number; count: number; weight: number }[] = [];
    for (const [i, b] of batches.entries()) {
      const rows = await run.alloc('scratch', b.B * b.T * 4, 'loss rows');
      const micro = acc ? opt.microPlan.begin() : run;
      try {
        const r = await model.lossAndGradsOnGpu(b.ids, b.targets, b.mask, b.B, b.T, micro, rows, wanted);
        lossParts.push({ rows, n: b.B * b.T, count: r.count, weight: weights[i] });
        if (!acc) {
          acc = r.grads;
          if (batches.length > 1) for (const g of acc.values()) scale(gpu, g, g.size / 4, weights[i]);
        } else if (weights[i] > 0) {
          for (const [name, g] of r.grads) {
            const into = acc.get(name);
            if (into) axpby(gpu, g, into, g.size / 4, weights[i], 1);
          }
        }
      } finally {
        if (micro !== run) opt.microPlan.end(micro);
      }
    }
    if (!acc) throw new RangeError('a training step needs at least one micro-batch');
    const refs = opt.params.flatMap((p) => {
      const buf = acc?.get(p.name);
      return buf ? [{ buf, n: p.n }] : [];
    });
    const partials = await run.alloc('scratch', 4 * Math.max(1, gradNormPartials(refs.map((r) => r.n))), 'gradnorm.partials');
    const clip = await run.alloc('scratch', 8, 'gradnorm.clip');
    gradNorm(gpu, refs, partials, clip, ctx.trainer.maxGradNorm);
    opt.update(acc, ctx.lr, clip);
    const { done } = await gpu.readLater([...lossParts.map((p) => ({ src: p.rows, bytes: p.n * 4 })), { src: clip, bytes: 4 }]);
    const parts = await done;
    let loss = 0;
    lossParts.forEach((p, i) => {
      if (p.weight <= 0) return;
      let sum = 0;
      for (const x of new Float32Array(parts[i])) sum += x;
      loss += (sum / Math.max(1, p.count)) * p.weight;
    });
    const [norm] = new Float32Array(parts[parts.length - 1]);
    return { loss, gradNorm: norm };
  } finally {
    opt.plan.end(run);
  }
}
