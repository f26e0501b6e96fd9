// The trainer's own settings, as a schema like a method's (the form and the CLI flags come
// from it). A method may suggest different defaults (MeZO: SGD at a small learning rate).

import { parseConfig, type ConfigOf } from './schema.ts';

export const TRAINER_SCHEMA = {
  steps: { kind: 'number', default: 100, min: 1, integer: true, help: 'Optimizer steps to run.' },
  lr: { kind: 'number', default: 1e-3, min: 0, minExclusive: true, log: true, help: 'Peak learning rate.' },
  schedule: { kind: 'enum', default: 'constant', options: ['constant', 'linear', 'cosine'], help: 'Learning-rate schedule after warm-up: constant, linear decay to 0, or cosine decay to 0.' },
  warmup: { kind: 'number', default: 0, min: 0, integer: true, help: 'Steps of linear warm-up from 0 to the peak learning rate.' },
  optimizer: { kind: 'enum', default: 'adamw', options: ['adamw', 'sgd'], help: 'AdamW (decoupled weight decay) or SGD (momentum optional). Zeroth-order methods update in place and ignore it.' },
  weightDecay: { kind: 'number', default: 0, min: 0, help: 'Weight decay (AdamW: decoupled; SGD and MeZO: coupled L2).' },
  beta1: { kind: 'number', default: 0.9, min: 0, max: 1, minExclusive: false, help: 'AdamW first-moment decay.' },
  beta2: { kind: 'number', default: 0.999, min: 0, max: 1, help: 'AdamW second-moment decay.' },
  momentum: { kind: 'number', default: 0, min: 0, max: 1, help: 'SGD momentum (0 = plain SGD).' },
  maxGradNorm: { kind: 'number', default: 1, min: 0, help: 'Clip the global gradient norm to this (0 = no clipping).' },
  accum: { kind: 'number', default: 1, min: 1, integer: true, help: 'Micro-batches per optimizer step (gradient accumulation).' },
  evalEvery: { kind: 'number', default: 0, min: 0, integer: true, help: 'Evaluate on the held-out split every N steps (0 = only at the end).' },
  evalBatches: { kind: 'number', default: 4, min: 1, integer: true, help: 'Held-out batches per evaluation.' },
} as const;

export type TrainerConfig = ConfigOf<typeof TRAINER_SCHEMA>;

export function trainerConfig(input: Readonly<Record<string, unknown>> = {}): TrainerConfig {
  return parseConfig(TRAINER_SCHEMA, input);
}

/** Learning rate at 1-based `step` of `total`. */
export function learningRate(c: Pick<TrainerConfig, 'lr' | 'schedule' | 'warmup' | 'steps'>, step: number): number {
  if (c.warmup > 0 && step <= c.warmup) return (c.lr * step) / c.warmup;
  const span = Math.max(1, c.steps - c.warmup);
  const done = Math.min(1, (step - c.warmup) / span);
  if (c.schedule === 'linear') return c.lr * (1 - done);
  if (c.schedule === 'cosine') return c.lr * 0.5 * (1 + Math.cos(Math.PI * done));
  return c.lr;
}
