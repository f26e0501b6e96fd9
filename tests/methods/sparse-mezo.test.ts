// sparse-mezo: only the masked (smallest-|w|) entries move, the rest stay bit-identical;
// loss falls on a memorisation batch; the ledger peak is that of inference plus the mask,
// and estimateMemory is within 5 % of it; bad options are ConfigErrors.

import { describe, expect, it } from 'vitest';
import '../../src/engine/methods/sparse-mezo/index.ts';
import { getMethod } from '../../src/engine/methods/registry.ts';
import { ConfigError, parseConfig } from '../../src/engine/config/schema.ts';
import { maskCount, smallestMagnitude } from '../../src/engine/methods/sparse-mezo/index.ts';
import type { Batch, RunShape } from '../../src/engine/methods/types.ts';
import { LlamaModel } from '../../src/engine/model/llama.ts';
import { trainerConfig } from '../../src/engine/config/trainer.ts';
import { rng, testGpu } from '../helpers/gpu.ts';
import { LLAMA, QWEN2, tinyModel } from '../helpers/tiny-model.ts';

function memorisationBatch(vocab: number, B = 2, T = 8): Batch {
  const r = rng(3);
  const ids = Array.from({ length: B * T }, () => Math.floor(r() * vocab));
  return { ids, targets: [...ids.slice(1), ids[0]], mask: ids.map(() => 1), B, T };
}

const m = getMethod('sparse-mezo');
const shape: RunShape = { B: 2, T: 8, precision: 'f32' };
const sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);

describe('sparse-mezo', () => {
  // First in the file, so that no other test's pooled buffers sit on the ledger.
  it('ledger peak ≤ 1.05 × a forward-only pass + the mask bytes; estimateMemory within 5 %', async () => {
    const gpu = await testGpu();
    const { spec, files } = tinyModel(QWEN2, 5);
    const ledger = gpu.arena.ledger;
    const trainer = trainerConfig({ ...m.trainerDefaults, lr: 1e-3 });
    const cfg = parseConfig(m.schema, { fraction: 0.3, samples: 2 });
    const batch = memorisationBatch(spec.vocab);
    gpu.arena.trim();
    const base = ledger.snapshot().totalLive;
    ledger.resetPeak();
    const model = await LlamaModel.load(gpu, files);
    await model.loss(batch.ids, batch.targets, batch.mask, 2, 8);
    const forwardPeak = ledger.snapshot().totalPeak - base;
    const state = await m.attach(model, cfg, { seed: 3, trainer, shape });
    for (let t = 1; t <= 3; t++) await state.step([batch], { step: t, lr: trainer.lr, trainer });
    const s = ledger.snapshot();
    const peak = s.totalPeak - base;
    const maskBytes = s.live.adapter;
    const est = m.estimateMemory(spec, cfg, shape, trainer);
    expect(maskBytes).toBe(est.adapter);
    console.log(`sparse-mezo memory: forward-only ${forwardPeak} B, steps ${peak} B, mask ${maskBytes} B, estimate ${sum(est)} B`, est);
    expect(peak).toBeLessThanOrEqual(1.05 * forwardPeak + maskBytes);
    expect(Math.abs(sum(est) - peak)).toBeLessThanOrEqual(0.05 * peak);
    state.dispose();
    model.dispose();
  });

  it('smallestMagnitude picks the k smallest |w|, ties by index, sorted', () => {
    expect([...smallestMagnitude([3, -1, 0.5, -0.5, 2, 1], 3)]).toEqual([1, 2, 3]);
    expect([...smallestMagnitude([1, 1, 1, 1], 2)]).toEqual([0, 1]);
    expect([...smallestMagnitude([-4, 3, -2, 1], 4)]).toEqual([0, 1, 2, 3]);
    expect(maskCount(10, 0.25)).toBe(3);
    expect(maskCount(3, 0.01)).toBe(1);
    expect(maskCount(7, 1)).toBe(7);
  });

  it('only masked entries move; every other entry is bit-identical after steps (weight decay on)', async () => {
    const gpu = await testGpu();
    const { files } = tinyModel(LLAMA, 11);
    const model = await LlamaModel.load(gpu, files);
    const before = new Map<string, Uint32Array>();
    for (const [n, b] of model.params) before.set(n, await gpu.readU32(b));
    const trainer = trainerConfig({ ...m.trainerDefaults, lr: 1e-2, weightDecay: 0.1 });
    const cfg = parseConfig(m.schema, { fraction: 0.2, samples: 2 });
    const state = (await m.attach(model, cfg, { seed: 9, trainer, shape })) as Awaited<ReturnType<typeof m.attach>> & { masks(): Promise<Map<string, Uint32Array>> };
    const masks = await state.masks();
    const batch = memorisationBatch(model.spec.vocab);
    for (let t = 1; t <= 4; t++) await state.step([batch], { step: t, lr: trainer.lr, trainer });
    let moved = 0;
    let trained = 0;
    for (const [name, buf] of model.params) {
      const old = before.get(name)!;
      const now = await gpu.readU32(buf);
      const mask = masks.get(name)!;
      const inMask = new Set(mask);
      // The mask is the smallest-|w| entries of the starting weights.
      expect([...mask]).toEqual([...smallestMagnitude(new Float32Array(old.buffer), maskCount(old.length, 0.2))]);
      trained += mask.length;
      for (let i = 0; i < old.length; i++) {
        if (inMask.has(i)) moved += now[i] !== old[i] ? 1 : 0;
        else if (now[i] !== old[i]) throw new Error(`${name}[${i}] is outside the mask but changed`);
      }
    }
    expect(state.trainableParams).toBe(trained);
    expect(moved).toBeGreaterThan(0.9 * trained);
    // The mask survives a checkpoint.
    const saved = await state.saveState();
    await state.loadState(saved);
    expect(await state.masks()).toEqual(masks);
    state.dispose();
    model.dispose();
  });

  it('loss on a memorisation batch falls', async () => {
    const gpu = await testGpu();
    const { spec, files } = tinyModel(LLAMA, 5);
    const model = await LlamaModel.load(gpu, files);
    const trainer = trainerConfig({ ...m.trainerDefaults, lr: 1e-2 });
    const state = await m.attach(model, parseConfig(m.schema, { fraction: 0.5, samples: 4 }), { seed: 7, trainer, shape });
    const batch = memorisationBatch(spec.vocab);
    const first = (await model.loss(batch.ids, batch.targets, batch.mask, 2, 8)).loss;
    for (let t = 1; t <= 40; t++) await state.step([batch], { step: t, lr: trainer.lr, trainer });
    const last = (await model.loss(batch.ids, batch.targets, batch.mask, 2, 8)).loss;
    console.log(`sparse-mezo memorisation: ${first.toFixed(4)} → ${last.toFixed(4)}`);
    expect(last).toBeLessThan(first * 0.97);
    state.dispose();
    model.dispose();
  });

  it('bad --fraction and a quantized base are ConfigErrors', async () => {
    const { spec } = tinyModel(LLAMA, 1);
    for (const f of [0, -0.1, 1.5, 'x']) expect(() => parseConfig(m.schema, { fraction: f })).toThrow(ConfigError);
    const cfg = parseConfig(m.schema, {});
    expect(cfg.fraction).toBe(0.25);
    expect(() => m.check(spec, { ...cfg, fraction: 0 }, shape)).toThrow(/--fraction/);
    expect(() => m.check(spec, cfg, { ...shape, precision: 'q8' })).toThrow(/--quant/);
    const gpu = await testGpu();
    const model = await LlamaModel.load(gpu, tinyModel(LLAMA, 1).files);
    await expect(m.attach(model, { ...cfg, fraction: 2 }, { seed: 1, trainer: trainerConfig(), shape })).rejects.toThrow(ConfigError);
    model.dispose();
  });
});
