// The hot paths are planned (issue 10 item 1): counted by wrapping the device, a steady-state
// training step (LoRA and full fine-tune on tiny-kjv) and a steady-state generated token create
// no buffer, await no error scope, submit at most twice and map one small staging buffer.
// Counts, never times.

import { describe, expect, it } from 'vitest';
import '../../src/engine/methods/all.ts';
import { countsDelta, type DeviceCounts } from '../../src/engine/gpu/counters.ts';
import { nodeModelDir } from '../../src/engine/io/node-dir.ts';
import { getMethod } from '../../src/engine/methods/registry.ts';
import type { Batch } from '../../src/engine/methods/types.ts';
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

function expectSteady(d: DeviceCounts, what: string, readBytes: number): void {
  expect(d.createBuffer, `${what}: createBuffer`).toBe(0);
  expect(d.popErrorScope, `${what}: awaited error scopes`).toBe(0);
  expect(d.submit, `${what}: submits`).toBeLessThanOrEqual(2);
  expect(d.mapAsync, `${what}: readbacks`).toBe(1);
  expect(d.mapBytes, `${what}: bytes read back`).toBeLessThanOrEqual(readBytes);
  expect(d.dispatch, `${what}: dispatches`).toBeGreaterThan(0);
}

describe('steady-state hot paths, counted on the device', () => {
  for (const [method, cfg] of [['lora', { rank: 8, targets: 'all-linear' }], ['full', {}]] as const) {
    it(`a ${method} training step on tiny-kjv (B=${B}, T=${T})`, async () => {
      const gpu = await testGpu();
      const model = await loadModel(gpu, nodeModelDir(DIR), { precision: 'f32' });
      const m = getMethod(method);
      const plan = planRun(model.spec, { method, methodConfig: cfg, trainer: {}, B, T, precision: 'f32', seed: 1 });
      const state = await m.attach(model, plan.config, { seed: 1, trainer: plan.trainer, shape: plan.shape });
      const losses: number[] = [];
      for (let t = 1; t <= 2; t++) losses.push((await state.step([batch(model.spec.vocab, t)], { step: t, lr: 1e-3, trainer: plan.trainer })).loss);
      const before = { ...gpu.counts };
      const r = await state.step([batch(model.spec.vocab, 3)], { step: 3, lr: 1e-3, trainer: plan.trainer });
      const d = countsDelta(gpu.counts, before);
      expect(Number.isFinite(r.loss) && Number.isFinite(r.gradNorm ?? NaN)).toBe(true);
      expectSteady(d, `${method} step`, 4096);
      state.dispose();
      model.dispose();
    });
  }

  it('a generated token on tiny-kjv (greedy and sampled): one 4-byte readback', async () => {
    const gpu = await testGpu();
    const model = await loadModel(gpu, nodeModelDir(DIR), { precision: 'f32' });
    for (const o of [{ temperature: 0 }, { temperature: 0.9, topK: 40, topP: 0.9 }]) {
      const at: DeviceCounts[] = [];
      const out = await model.generate([1, 5, 9, 12], { ...o, maxNewTokens: 6, seed: 3, onToken: () => void at.push({ ...gpu.counts }) });
      expect(out.length).toBe(6);
      // tokens 3..5 are steady state (token 1 comes from the prompt's pass, token 2 plans the one-token shape)
      for (let i = 3; i < 5; i++) expectSteady(countsDelta(at[i + 1], at[i]), `token ${i + 1} ${JSON.stringify(o)}`, 4);
    }
    model.dispose();
  });
});
