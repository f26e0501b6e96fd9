// The training loop every host runs (the worker, the CLI, tests): a method's state steps
// through the train batches in a fixed order (the data cursor is a function of the step, so
// a resumed run sees the same batches), under the trainer's schedule, with an eval every N
// steps, events for every step and eval, pause / resume / stop between steps, a clear stop
// on a non-finite loss, and checkpoints that resume exactly.

import type { ByCategory, LedgerSnapshot } from '../gpu/ledger.ts';
import { bytesSource } from '../io/bytes.ts';
import { SafetensorsFile, writeSafetensors } from '../io/safetensors.ts';
import type { CausalLM } from '../model/load.ts';
import type { Batch, Trainable } from '../methods/types.ts';
import { learningRate, type TrainerConfig } from '../config/trainer.ts';

/** Ledger bytes as the events carry them: live per category, their total, and the peak. */
export interface MemoryFields {
  weights: number;
  adapter: number;
  gradients: number;
  optimizer: number;
  activations: number;
  scratch: number;
  total: number;
  peak: number;
}

export function memoryFields(s: LedgerSnapshot, peak = s.totalPeak): MemoryFields {
  return { ...s.live, total: s.totalLive, peak };
}

export type TrainEvent =
  | {
      type: 'step'; step: number; loss: number; lr: number; tokensPerSec: number; wallMs: number; gradNorm?: number;
      /** Live after the step, their total, and the run's peak so far. */
      memory: MemoryFields;
      /** The highest bytes per category during this step (activations and gradients live
       *  only inside it), and the highest total. */
      stepPeak: ByCategory & { total: number };
    }
  | {
      type: 'eval'; step: number; loss: number; metric?: number;
      /** Time since the run started when the eval ended (pauses not counted), and the eval's own duration. */
      wallMs?: number; ms?: number;
    }
  | { type: 'paused'; step: number }
  | { type: 'resumed'; step: number };

export interface TrainSummary {
  steps: number;
  finalLoss: number;
  evalLoss?: number;
  metric?: number;
  /** Highest total bytes the ledger saw during the run. */
  peakBytes: number;
  trainableParams: number;
  /** Time from the first step to the end of the last step or eval, pauses not counted. */
  wallMs: number;
  stopped: boolean;
}

/** A step gave a non-finite loss or gradient norm: the run stops there (its state is no longer
 *  worth training or exporting); `step` is the step that diverged. */
export class TrainingDivergedError extends Error {
  override name = 'TrainingDivergedError';
  constructor(
    message: string,
    readonly step: number,
  ) {
    super(message);
  }
}

/** Why a step's result cannot be trained on, or undefined when its loss and gradient norm are finite. */
export function divergence(step: number, lr: number, loss: number, gradNorm: number | undefined): TrainingDivergedError | undefined {
  const bad = !Number.isFinite(loss) ? `the loss is ${loss}` : gradNorm !== undefined && !Number.isFinite(gradNorm) ? `the gradient norm is ${gradNorm}` : undefined;
  if (!bad) return undefined;
  return new TrainingDivergedError(
    `Training diverged at step ${step}: ${bad}. The learning rate (${lr.toPrecision(3)} at this step) is most likely too high: ` +
      'lower it (--lr), warm up to it (--warmup) or clip the gradient norm (--max-grad-norm). The run stopped; its last checkpoint is kept.',
    step,
  );
}

/** Pause / resume / stop, between steps. */
export class RunControl {
  private pausedAt: { resolve: () => void; promise: Promise<void> } | undefined;
  stopped = false;

  get paused(): boolean {
    return this.pausedAt !== undefined;
  }

  pause(): void {
    if (this.pausedAt) return;
    let resolve = () => {};
    const promise = new Promise<void>((r) => (resolve = r));
    this.pausedAt = { resolve, promise };
  }

  resume(): void {
    this.pausedAt?.resolve();
    this.pausedAt = undefined;
  }

  stop(): void {
    this.stopped = true;
    this.resume();
  }

  /** Resolves when not paused (at once, or on resume / stop). */
  wait(): Promise<void> {
    return this.pausedAt?.promise ?? Promise.resolve();
  }
}

export interface TrainOptions {
  model: CausalLM;
  state: Trainable;
  trainer: TrainerConfig;
  train: readonly Batch[];
  eval?: readonly Batch[];
  /** The dataset's automatic metric on the held-out split (exact-match accuracy), if any. */
  metric?: () => Promise<number>;
  onEvent?: (e: TrainEvent) => void;
  control?: RunControl;
  /** First step to run (1 + the step a checkpoint was taken at). */
  startStep?: number;
  /** Called after each step but the last, its eval included (a host checkpoints here every N steps). */
  afterStep?: (step: number) => Promise<void>;
}

/** Batches of 1-based step `step` (trainer.accum of them), cycling through the train set. */
export function stepBatches(train: readonly Batch[], step: number, accum: number): Batch[] {
  return Array.from({ length: accum }, (_, k) => train[((step - 1) * accum + k) % train.length]);
}

/** Token-weighted mean loss over up to `limit` held-out batches (forward only). With a
 *  `between` hook, called before each batch: it may wait (a pause) or say stop (NaN then). */
export async function evalLoss(model: CausalLM, batches: readonly Batch[], limit = batches.length, between?: () => Promise<boolean>): Promise<number> {
  let sum = 0;
  let tokens = 0;
  for (const b of batches.slice(0, limit)) {
    if (between && !(await between())) return Number.NaN;
    const r = await model.loss(b.ids, b.targets, b.mask, b.B, b.T);
    sum += r.loss * r.tokens;
    tokens += r.tokens;
  }
  return sum / Math.max(1, tokens);
}

export async function train(o: TrainOptions): Promise<TrainSummary> {
  const { model, state, trainer: c } = o;
  if (o.train.length === 0) throw new RangeError('training needs at least one batch of training data');
  const gpu = model.gpu;
  const control = o.control ?? new RunControl();
  // Wall time runs from the first step; time spent paused is taken out of it.
  let t0 = performance.now();
  const now = () => performance.now() - t0;
  /** The wall time the latest step or eval event carried (the summary's, so they agree). */
  let lastWall = 0;
  let finalLoss = Number.NaN;
  let evalL: number | undefined;
  let metric: number | undefined;
  let step = (o.startStep ?? 1) - 1;
  // The ledger's peak window restarts every step (for the step's own peak); the run's peak
  // is the highest of them, from what attach left (its own peak included).
  let runPeak = gpu.ledger.snapshot().totalPeak;
  /** Wait out a pause (its time is not counted); false when the run was stopped. */
  const holdIfPaused = async (at: number): Promise<boolean> => {
    if (control.paused && !control.stopped) {
      const p0 = performance.now();
      o.onEvent?.({ type: 'paused', step: at });
      await control.wait();
      t0 += performance.now() - p0;
      if (!control.stopped) o.onEvent?.({ type: 'resumed', step: at });
    }
    return !control.stopped;
  };
  // An eval pauses and stops between its batches: a Pause or Stop pressed during it acts
  // within one batch, and a stopped eval reports nothing.
  const evaluate = async (at: number) => {
    if (!o.eval?.length && !o.metric) return;
    const e0 = now();
    const loss = o.eval?.length ? await evalLoss(model, o.eval, c.evalBatches, () => holdIfPaused(at)) : undefined;
    if (!(await holdIfPaused(at))) return;
    const m = o.metric ? await o.metric() : undefined;
    evalL = loss;
    metric = m;
    runPeak = Math.max(runPeak, gpu.ledger.snapshot().totalPeak);
    const end = now();
    lastWall = end;
    o.onEvent?.({ type: 'eval', step: at, loss: evalL ?? Number.NaN, ...(metric === undefined ? {} : { metric }), wallMs: end, ms: end - e0 });
  };
  while (step < c.steps && !control.stopped) {
    if (!(await holdIfPaused(step))) break;
    step++;
    const batches = stepBatches(o.train, step, c.accum);
    const lr = learningRate(c, step);
    gpu.ledger.resetPeak();
    const s0 = performance.now();
    const r = await state.step(batches, { step, lr, trainer: c });
    const wallMs = performance.now() - s0;
    const snap = gpu.ledger.snapshot();
    runPeak = Math.max(runPeak, snap.totalPeak);
    const diverged = divergence(step, lr, r.loss, r.gradNorm);
    if (diverged) throw diverged;
    finalLoss = r.loss;
    const tokens = batches.reduce((a, b) => a + b.B * b.T, 0);
    o.onEvent?.({
      type: 'step', step, loss: r.loss, lr, tokensPerSec: (tokens / wallMs) * 1000, wallMs: (lastWall = now()),
      ...(r.gradNorm === undefined ? {} : { gradNorm: r.gradNorm }), memory: memoryFields(snap, runPeak), stepPeak: { ...snap.peak, total: snap.totalPeak },
    });
    if (c.evalEvery > 0 && step % c.evalEvery === 0 && step < c.steps) await evaluate(step);
    if (o.afterStep && step < c.steps && !control.stopped) await o.afterStep(step);
  }
  // The last eval (skipped after a Stop: stop means now).
  if (!control.stopped) await evaluate(step);
  const wall = lastWall;
  return {
    steps: step, finalLoss, evalLoss: evalL, metric, peakBytes: Math.max(runPeak, gpu.ledger.snapshot().totalPeak),
    trainableParams: state.trainableParams, wallMs: wall, stopped: control.stopped,
  };
}

/** A checkpoint: the method's trainable and optimizer state plus the step, as safetensors. */
export async function saveCheckpoint(state: Trainable, step: number, meta: Record<string, string> = {}): Promise<Uint8Array> {
  const tensors = [...(await state.saveState())].map(([name, data]) => ({ name, dtype: 'F32' as const, shape: [data.length], data }));
  return writeSafetensors(tensors, { ...meta, step: String(step), format: 'webtune-checkpoint' });
}

/** Restore a checkpoint into a freshly attached state; returns the step to continue from. */
export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

/** Restore a checkpoint into a freshly attached state; returns the step to continue from.
 *  Refused, before the state is touched: a file that is not a webtune checkpoint, one
 *  without a whole-number `step`, of another method than `expect.method`, or holding a
 *  non-finite value (a NaN optimizer state would be trained on silently). */
export async function loadCheckpoint(
  state: Trainable, bytes: Uint8Array, name = 'checkpoint.safetensors', expect: { method?: string } = {},
): Promise<{ nextStep: number; meta: Record<string, string> }> {
  const f = await SafetensorsFile.open(bytesSource(bytes, name));
  if (f.metadata.format !== 'webtune-checkpoint') throw new CheckpointError(`${name} is not a webtune checkpoint (its metadata has no format "webtune-checkpoint")`);
  const stepText = f.metadata.step;
  const step = stepText !== undefined && /^\d{1,15}$/.test(stepText) ? Number(stepText) : Number.NaN;
  if (!Number.isSafeInteger(step)) throw new CheckpointError(`${name}: its metadata's "step" is ${stepText === undefined ? 'missing' : JSON.stringify(stepText)}, expected the whole number of steps it was taken after`);
  if (expect.method !== undefined && f.metadata.method !== undefined && f.metadata.method !== expect.method) {
    throw new CheckpointError(`${name} is a checkpoint of a ${f.metadata.method} run, not of ${expect.method}`);
  }
  const map = new Map<string, Float32Array>();
  for (const t of f.tensors.keys()) {
    const v = await f.readF32(t);
    const bad = v.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) throw new CheckpointError(`${name}: tensor "${t}" holds ${v[bad]} at index ${bad}; a checkpoint with non-finite values cannot be resumed`);
    map.set(t, v);
  }
  await state.loadState(map);
  return { nextStep: step + 1, meta: f.metadata };
}
