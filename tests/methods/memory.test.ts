// Memory, from the ledger, on the built-in model (tiny-kjv) and one shape: every method's
// estimate is within 5 % of its measured peak; MeZO's peak is within 5 % of a forward-only
// pass; LoRA on a q4 base holds ≤ 0.57 bytes per base parameter in 'weights'; LoRA's
// optimizer bytes are exactly 2 × 4 bytes per adapter value.

import { describe, expect, it } from 'vitest';
import '../../src/engine/methods/all.ts';
import { nodeModelDir } from '../../src/engine/io/node-dir.ts';
import { getMethod, methodNames } from '../../src/engine/methods/registry.ts';
import { parseConfig } from '../../src/engine/config/schema.ts';
import type { Batch, RunShape } from '../../src/engine/methods/types.ts';
import { parameterCount } from '../../src/engine/model/config.ts';
import { loadModel } from '../../src/engine/model/load.ts';
import { planRun } from '../../src/engine/train/plan.ts';
import { rng, testGpu } from '../helpers/gpu.ts';

const DIR = new URL('../../public/models/tiny-kjv', import.meta.url).pathname;
const [B, T] = [4, 32];

function batch(vocab: number, seed: number): Batch {
  const r = rng(seed);
  const ids = Array.from({ length: B * T }, () => Math.floor(r() * vocab));
  return { ids, targets: [...ids.slice(1), 2], mask: ids.map((_, i) => (i % T < 4 ? 0 : 1)), B, T };
}

/** Peak total bytes of `run` after loading the model, with the model's bytes in it. */
async function measure(precision: RunShape['precision'], run: (m: Awaited<ReturnType<typeof loadModel>>) => Promise<void>) {
  const gpu = await testGpu();
  const base = gpu.ledger.snapshot().totalLive;
  const model = await loadModel(gpu, nodeModelDir(DIR), { precision });
  gpu.ledger.resetPeak();
  await run(model);
  const s = gpu.ledger.snapshot();
  model.dispose();
  return { peak: s.totalPeak - base, snapshot: s, spec: model.spec };
}

const RUNS: { method: string; cfg: Record<string, unknown>; precision: RunShape['precision'] }[] = [
  { method: 'full', cfg: {}, precision: 'f32' },
  { method: 'lora', cfg: { rank: 8, targets: 'all-linear' }, precision: 'f32' },
  { method: 'lora', cfg: { rank: 4 }, precision: 'q4' },
  { method: 'mezo', cfg: {}, precision: 'f32' },
  { method: 'mezo', cfg: { trainable: 'lora', rank: 8, targets: 'all-linear' }, precision: 'q8' },
  { method: 'shira', cfg: { fraction: 0.05 }, precision: 'f32' },
  { method: 'sparse-mezo', cfg: { fraction: 0.25 }, precision: 'f32' },
  { method: 'qzo', cfg: {}, precision: 'q4' },
];

describe('memory from the ledger', () => {
  for (const r of RUNS) {
    it(`${r.method} ${JSON.stringify(r.cfg)} on ${r.precision}: estimate within 5 % of the measured peak`, async () => {
      const m = getMethod(r.method);
      let estimate = 0;
      const { peak } = await measure(r.precision, async (model) => {
        const plan = planRun(model.spec, { method: r.method, methodConfig: r.cfg, trainer: {}, B, T, precision: r.precision, seed: 1 });
        estimate = plan.estimate.total;
        const state = await m.attach(model, parseConfig(m.schema, r.cfg), { seed: 1, trainer: plan.trainer, shape: plan.shape });
        for (let t = 1; t <= 2; t++) await state.step([batch(model.spec.vocab, t)], { step: t, lr: 1e-4, trainer: plan.trainer });
        state.dispose();
      });
      expect(Math.abs(estimate - peak) / peak, `estimate ${estimate} vs measured ${peak}`).toBeLessThanOrEqual(0.05);
    });
  }

  it('every registered method is estimated here (a new method fails until it has a run above)', () => {
    const here = new Set(RUNS.map((r) => r.method));
    for (const n of methodNames()) expect(here.has(n), `${n} has no run in memory.test.ts`).toBe(true);
  });

  it("mezo's peak is at most 1.05× the peak of a forward-only pass on the same model and shape", async () => {
    const fwd = await measure('f32', async (model) => {
      const b = batch(model.spec.vocab, 1);
      await model.loss(b.ids, b.targets, b.mask, B, T);
    });
    const m = getMethod('mezo');
    const zo = await measure('f32', async (model) => {
      const plan = planRun(model.spec, { method: 'mezo', methodConfig: { samples: 2 }, trainer: {}, B, T, precision: 'f32', seed: 1 });
      const state = await m.attach(model, plan.config, { seed: 1, trainer: plan.trainer, shape: plan.shape });
      for (let t = 1; t <= 2; t++) await state.step([batch(model.spec.vocab, t)], { step: t, lr: 1e-5, trainer: plan.trainer });
      state.dispose();
    });
    expect(zo.peak).toBeLessThanOrEqual(1.05 * fwd.peak);
    expect(zo.snapshot.peak.gradients).toBe(0);
    expect(zo.snapshot.peak.optimizer).toBe(0);
  });

  it('lora on a q4 base: ≤ 0.57 bytes per base parameter in weights; optimizer = 2 × 4 B × adapter values; no weight gradients', async () => {
    const m = getMethod('lora');
    let adapterValues = 0;
    let optimizerBytes = 0;
    let weightBytes = 0;
    const { spec, snapshot } = await measure('q4', async (model) => {
      weightBytes = model.gpu.ledger.snapshot().live.weights;
      const before = model.gpu.ledger.snapshot().live.optimizer;
      const plan = planRun(model.spec, { method: 'lora', methodConfig: { rank: 8, targets: 'all-linear' }, trainer: {}, B, T, precision: 'q4', seed: 1 });
      const state = await m.attach(model, plan.config, { seed: 1, trainer: plan.trainer, shape: plan.shape });
      adapterValues = state.trainableParams;
      optimizerBytes = model.gpu.ledger.snapshot().live.optimizer - before;
      await state.step([batch(model.spec.vocab, 1)], { step: 1, lr: 1e-3, trainer: plan.trainer });
      state.dispose();
    });
    expect(weightBytes / parameterCount(spec)).toBeLessThanOrEqual(0.57);
    expect(optimizerBytes).toBe(2 * 4 * adapterValues);
    expect(snapshot.peak.gradients).toBe(4 * adapterValues); // adapter gradients only
  });
});
