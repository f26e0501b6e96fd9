// The training loop: schedules, determinism, gradient accumulation, exact resume from a
// checkpoint, a clear stop on a non-finite loss, pause / resume / stop, eval events.

import { describe, expect, it } from 'vitest';
import '../../src/engine/methods/all.ts';
import { getMethod } from '../../src/engine/methods/registry.ts';
import { parseConfig } from '../../src/engine/config/schema.ts';
import type { Batch } from '../../src/engine/methods/types.ts';
import { LlamaModel } from '../../src/engine/model/llama.ts';
import { learningRate, trainerConfig, type TrainerConfig } from '../../src/engine/config/trainer.ts';
import { loadCheckpoint, RunControl, saveCheckpoint, train, TrainingDivergedError, type TrainEvent } from '../../src/engine/train/trainer.ts';
import { rng, testGpu } from '../helpers/gpu.ts';
import { LLAMA, tinyModel } from '../helpers/tiny-model.ts';

function data(vocab: number, n: number, B = 2, T = 6, seed = 1): Batch[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => {
    const ids = Array.from({ length: B * T }, () => Math.floor(r() * vocab));
    return { ids, targets: ids.map((x) => (x * 7 + 3) % vocab), mask: ids.map((_, i) => (i % T === 0 ? 0 : 1)), B, T };
  });
}

async function run(method: string, cfg: Record<string, unknown>, t: Partial<TrainerConfig>, opts: { stopAfter?: number; resume?: Uint8Array; startStep?: number } = {}) {
  const gpu = await testGpu();
  const { spec, files } = tinyModel(LLAMA, 5);
  const model = await LlamaModel.load(gpu, files);
  const m = getMethod(method);
  const trainer = trainerConfig({ ...m.trainerDefaults, ...t });
  const state = await m.attach(model, parseConfig(m.schema, cfg), { seed: 3, trainer, shape: { B: 2, T: 6, precision: 'f32' } });
  let startStep = 1;
  if (opts.resume) startStep = (await loadCheckpoint(state, opts.resume)).nextStep;
  const losses: number[] = [];
  const events: TrainEvent[] = [];
  const control = new RunControl();
  const summary = await train({
    model, state, trainer, train: data(spec.vocab, 5), eval: data(spec.vocab, 2, 2, 6, 9), startStep, control,
    onEvent: (e) => {
      events.push(e);
      if (e.type !== 'step') return;
      losses.push(e.loss);
      if (e.step === opts.stopAfter) control.stop();
    },
  });
  const ckpt = await saveCheckpoint(state, summary.steps);
  const logits = await model.logits(data(spec.vocab, 1)[0].ids, 2, 6);
  state.dispose();
  model.dispose();
  return { losses, events, summary, ckpt, logits };
}

describe('trainer', () => {
  it('schedules: warm-up then constant, linear or cosine decay to 0', () => {
    const c = { lr: 1, warmup: 2, steps: 12 };
    expect([1, 2, 3].map((s) => learningRate({ ...c, schedule: 'constant' }, s))).toEqual([0.5, 1, 1]);
    expect(learningRate({ ...c, schedule: 'linear' }, 7)).toBeCloseTo(0.5);
    expect(learningRate({ ...c, schedule: 'linear' }, 12)).toBeCloseTo(0);
    expect(learningRate({ ...c, schedule: 'cosine' }, 7)).toBeCloseTo(0.5);
    expect(learningRate({ ...c, schedule: 'cosine' }, 12)).toBeCloseTo(0);
  });

  it('the same seed gives the same loss curve; a checkpoint resumes it exactly (lora, AdamW, cosine)', async () => {
    const t = { steps: 6, lr: 2e-2, schedule: 'cosine' as const, warmup: 1 };
    const a = await run('lora', { rank: 2, targets: 'all-linear' }, t);
    const b = await run('lora', { rank: 2, targets: 'all-linear' }, t);
    expect(b.losses).toEqual(a.losses);
    expect(a.losses.at(-1)).toBeLessThan(a.losses[0]);
    const first = await run('lora', { rank: 2, targets: 'all-linear' }, t, { stopAfter: 3 });
    const rest = await run('lora', { rank: 2, targets: 'all-linear' }, t, { resume: first.ckpt });
    expect([...first.losses, ...rest.losses]).toEqual(a.losses);
    expect(Array.from(rest.logits)).toEqual(Array.from(a.logits));
  });

  it('a MeZO run resumes exactly too (the noise is a function of seed and step)', async () => {
    const t = { steps: 4, lr: 1e-3 };
    const a = await run('mezo', { samples: 2 }, t);
    const first = await run('mezo', { samples: 2 }, t, { stopAfter: 2 });
    const rest = await run('mezo', { samples: 2 }, t, { resume: first.ckpt });
    expect([...first.losses, ...rest.losses]).toEqual(a.losses);
  });

  it('step events carry loss, lr, tokens/s, wall time, gradient norm and the ledger; evals every N steps and at the end', async () => {
    const { events, summary } = await run('full', {}, { steps: 4, evalEvery: 2, lr: 1e-2 });
    const steps = events.filter((e) => e.type === 'step');
    expect(steps.map((e) => e.step)).toEqual([1, 2, 3, 4]);
    for (const e of steps) {
      expect(e.tokensPerSec).toBeGreaterThan(0);
      expect(e.gradNorm).toBeGreaterThan(0);
      expect(e.memory.weights).toBeGreaterThan(0);
      expect(e.memory.optimizer).toBeGreaterThan(0);
      expect(e.memory.peak).toBeGreaterThanOrEqual(e.memory.total);
    }
    expect(events.filter((e) => e.type === 'eval').map((e) => e.step)).toEqual([2, 4]);
    expect(summary.evalLoss).toBeGreaterThan(0);
  });

  it('gradient accumulation over two micro-batches equals one step on both at once', async () => {
    const gpu = await testGpu();
    const { spec, files } = tinyModel(LLAMA, 5);
    const [b1, b2] = data(spec.vocab, 2);
    const both: Batch = { ids: [...Array.from(b1.ids), ...Array.from(b2.ids)], targets: [...Array.from(b1.targets), ...Array.from(b2.targets)], mask: [...Array.from(b1.mask), ...Array.from(b2.mask)], B: 4, T: 6 };
    const m = getMethod('full');
    const out: Float32Array[] = [];
    for (const [batches, accum] of [[[b1, b2], 2], [[both], 1]] as const) {
      const model = await LlamaModel.load(gpu, files);
      const trainer = trainerConfig({ lr: 1e-2, accum, optimizer: 'sgd', maxGradNorm: 0 });
      const state = await m.attach(model, parseConfig(m.schema, {}), { seed: 1, trainer, shape: { B: 2, T: 6, precision: 'f32' } });
      await state.step(batches, { step: 1, lr: 1e-2, trainer });
      const w = model.params.get('model.layers.0.mlp.up_proj.weight');
      if (!w) throw new Error('no weight');
      out.push(await gpu.readF32(w));
      state.dispose();
      model.dispose();
    }
    for (let i = 0; i < out[0].length; i++) expect(Math.abs(out[0][i] - out[1][i])).toBeLessThan(1e-6);
  });

  it('gradient accumulation weights micro-batches by their trained tokens: unequal prompt masks give the step of one batch holding them all', async () => {
    const gpu = await testGpu();
    const { spec, files } = tinyModel(LLAMA, 5);
    // Three micro-batches of 2, 9 and 6 trained tokens (prompt masking leaves them unequal).
    const [b1, b2, b3] = data(spec.vocab, 3).map((b, k) => ({ ...b, mask: Array.from(b.mask, (_, i) => (k === 0 ? (i === 3 || i === 8 ? 1 : 0) : k === 1 ? (i < 9 ? 1 : 0) : i % 2)) }));
    expect([b1, b2, b3].map((b) => b.mask.reduce((a: number, m: number) => a + m, 0))).toEqual([2, 9, 6]);
    const cat = (k: 'ids' | 'targets' | 'mask') => [b1, b2, b3].flatMap((b) => Array.from(b[k]));
    const all: Batch = { ids: cat('ids'), targets: cat('targets'), mask: cat('mask'), B: 6, T: 6 };
    const m = getMethod('full');
    const out: Float32Array[] = [];
    const losses: number[] = [];
    for (const [batches, accum] of [[[b1, b2, b3], 3], [[all], 1]] as const) {
      const model = await LlamaModel.load(gpu, files);
      const trainer = trainerConfig({ lr: 1e-1, accum, optimizer: 'sgd', maxGradNorm: 0 });
      const state = await m.attach(model, parseConfig(m.schema, {}), { seed: 1, trainer, shape: { B: 2, T: 6, precision: 'f32' } });
      losses.push((await state.step(batches, { step: 1, lr: 1e-1, trainer })).loss);
      const w = model.params.get('model.layers.0.mlp.up_proj.weight');
      if (!w) throw new Error('no weight');
      out.push(await gpu.readF32(w));
      state.dispose();
      model.dispose();
    }
    expect(losses[0]).toBeCloseTo(losses[1], 5);
    let worst = 0;
    for (let i = 0; i < out[0].length; i++) worst = Math.max(worst, Math.abs(out[0][i] - out[1][i]));
    expect(worst).toBeLessThan(1e-6);
  });

  it('a non-finite loss stops the run with a clear error; pause and stop act between steps', async () => {
    const gpu = await testGpu();
    const { spec, files } = tinyModel(LLAMA, 5);
    const model = await LlamaModel.load(gpu, files);
    const m = getMethod('lora');
    const trainer = trainerConfig({ steps: 50, lr: 1e-2 });
    const state = await m.attach(model, parseConfig(m.schema, {}), { seed: 1, trainer, shape: { B: 2, T: 6, precision: 'f32' } });
    const control = new RunControl();
    const seen: string[] = [];
    const done = train({
      model, state, trainer, train: data(spec.vocab, 3), control,
      onEvent: (e) => {
        seen.push(`${e.type}:${e.step}`);
        if (e.type === 'step' && e.step === 2) {
          control.pause();
          setTimeout(() => control.resume(), 20);
        }
        if (e.type === 'step' && e.step === 4) control.stop();
      },
    });
    const summary = await done;
    expect(summary.stopped).toBe(true);
    expect(summary.steps).toBe(4);
    expect(seen.slice(0, 5)).toEqual(['step:1', 'step:2', 'paused:2', 'resumed:2', 'step:3']);
    const norm = model.params.get('model.norm.weight');
    if (!norm) throw new Error('no norm');
    gpu.write(norm, new Float32Array(spec.hidden).fill(Number.NaN));
    await expect(train({ model, state, trainer, train: data(spec.vocab, 3) })).rejects.toThrow(TrainingDivergedError);
    await expect(train({ model, state, trainer, train: data(spec.vocab, 3) })).rejects.toThrow(/step 1: the loss is NaN/);
    state.dispose();
    model.dispose();
  });
  it('an eval pauses and stops between its batches; paused time is not wall time; evals report their time', async () => {
    const gpu = await testGpu();
    const { spec, files } = tinyModel(LLAMA, 5);
    const model = await LlamaModel.load(gpu, files);
    const m = getMethod('lora');
    const trainer = trainerConfig({ steps: 6, lr: 1e-2, evalEvery: 1, evalBatches: 3 });
    const state = await m.attach(model, parseConfig(m.schema, {}), { seed: 1, trainer, shape: { B: 2, T: 6, precision: 'f32' } });
    const control = new RunControl();
    const seen: string[] = [];
    // Watch the held-out forwards (the real model.loss runs): pause in the first eval's first
    // batch, stop in the second eval's first batch.
    const realLoss = model.loss.bind(model);
    let evalBatchesRun = 0;
    let inEval = false;
    let afterStop = 0;
    const PAUSE_MS = 400;
    model.loss = async (...a: Parameters<typeof model.loss>) => {
      if (inEval) {
        evalBatchesRun++;
        if (control.stopped) afterStop++;
        if (evalBatchesRun === 1) {
          control.pause();
          setTimeout(() => control.resume(), PAUSE_MS);
        }
        if (evalBatchesRun === 4) control.stop();
      }
      return realLoss(...a);
    };
    const t0 = performance.now();
    const summary = await train({
      model, state, trainer, train: data(spec.vocab, 3), eval: data(spec.vocab, 3, 2, 6, 9), control,
      onEvent: (e) => {
        seen.push(`${e.type}:${e.step}`);
        if (e.type === 'step') inEval = true;
        if (e.type === 'eval') {
          inEval = false;
          expect(e.ms).toBeGreaterThan(0);
          expect(e.wallMs).toBeGreaterThan(0);
        }
      },
    });
    const elapsed = performance.now() - t0;
    // The pause came after the first eval batch, before the second; the stop one batch into
    // the second eval ended the run there, with no eval of step 2 and none at the end.
    expect(seen).toEqual(['step:1', 'paused:1', 'resumed:1', 'eval:1', 'step:2']);
    expect(evalBatchesRun).toBe(4);
    expect(afterStop).toBe(0);
    expect(summary).toMatchObject({ stopped: true, steps: 2 });
    expect(elapsed - summary.wallMs).toBeGreaterThan(PAUSE_MS * 0.9);
    state.dispose();
    model.dispose();
  });
});
