// What the zeroth-order methods (mezo, sparse-mezo, qzo) share: a seed per (run, step,
// sample) from which each perturbation z is regenerated, the forward-only loss, and the
// two-sided SPSA step of MeZO (Malladi et al. 2023, Algorithm 1).

import type { CausalLM } from '../model/load.ts';
import type { Batch, StepContext, StepResult } from './types.ts';

/** A 32-bit seed per (run seed, step, sample), well mixed (splitmix32-style). */
export function sampleSeed(seed: number, step: number, sample: number): number {
  let h = (seed ^ Math.imul(step, 0x9e3779b1) ^ Math.imul(sample + 1, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Forward-only loss over the micro-batches: the mean over all their trained tokens (each
 *  micro-batch's mean weighted by its trained tokens, as the first-order step does). */
export async function meanLoss(model: CausalLM, batches: readonly Batch[]): Promise<number> {
  let sum = 0;
  let tokens = 0;
  let plain = 0;
  for (const b of batches) {
    const r = await model.loss(b.ids, b.targets, b.mask, b.B, b.T);
    plain += r.loss / batches.length;
    if (r.tokens > 0) {
      sum += r.loss * r.tokens;
      tokens += r.tokens;
    }
  }
  return tokens > 0 ? sum / tokens : plain;
}

export interface SpsaOptions {
  eps: number;
  samples: number;
  /** The run's seed. */
  seed: number;
  /** θ += c·z(seed) over the trainable set. */
  shift(seed: number, c: number): void;
  /** θ ← θ·(1 − f) over the trainable set (coupled weight decay). */
  decay(f: number): Promise<void> | void;
}

/**
 * One MeZO step: per sample, θ += εz, forward, θ −= 2εz, forward, θ += εz (restored), the
 * projected gradient g = (L₊ − L₋) / 2ε; then decay and θ −= lr·g·z / samples with z
 * regenerated. A non-finite g leaves θ as it was and reports a NaN loss.
 */
export async function spsaStep(model: CausalLM, batches: readonly Batch[], ctx: StepContext, o: SpsaOptions): Promise<StepResult> {
  const grads: number[] = [];
  let loss = 0;
  for (let j = 0; j < o.samples; j++) {
    const s = sampleSeed(o.seed, ctx.step, j);
    o.shift(s, o.eps);
    const lp = await meanLoss(model, batches);
    o.shift(s, -2 * o.eps);
    const lm = await meanLoss(model, batches);
    o.shift(s, o.eps);
    grads.push((lp - lm) / (2 * o.eps));
    loss += (lp + lm) / 2 / o.samples;
  }
  if (!grads.every(Number.isFinite)) return { loss: Number.NaN, gradNorm: Number.NaN };
  const wd = ctx.trainer.weightDecay;
  if (wd > 0) await o.decay(ctx.lr * wd);
  for (let j = 0; j < o.samples; j++) o.shift(sampleSeed(o.seed, ctx.step, j), (-ctx.lr * grads[j]) / o.samples);
  await model.gpu.flush();
  return { loss, gradNorm: Math.abs(grads.reduce((a, g) => a + g, 0) / o.samples) };
}
