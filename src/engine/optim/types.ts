// What one optimizer step works on and gives back, shared by the optimizer (optim/) and
// every method above it (methods/types.ts re-exports these for the method contract).

import type { GpuBuf } from '../gpu/arena.ts';
import type { TrainerConfig } from '../config/trainer.ts';

/** One micro-batch, row-major (B, T): inputs, next-token targets, loss mask (1 = counted). */
export interface Batch {
  ids: ArrayLike<number>;
  targets: ArrayLike<number>;
  mask: ArrayLike<number>;
  B: number;
  T: number;
}

export interface StepContext {
  /** 1-based optimizer step. */
  step: number;
  /** Learning rate for this step (after the schedule). */
  lr: number;
  trainer: TrainerConfig;
}

export interface StepResult {
  /** Mean training loss over the step's micro-batches (for MeZO: of the unperturbed mean
   *  of the two perturbed losses). */
  loss: number;
  /** Global gradient norm before clipping, where the method forms a gradient; for MeZO the
   *  absolute projected gradient. */
  gradNorm?: number;
}

/** A trained tensor on the GPU, by the name its gradient has in the model's backward. */
export interface TrainedTensor {
  name: string;
  buf: GpuBuf;
  /** f32 values. */
  n: number;
}
