// qzo: only the scales of a quantized base move (codes bit-identical), the +ε / −ε / restore
// phases give back exactly the starting words, loss falls on a memorisation batch on a tiny
// q8 model, export → import gives the same logits (merge is a no-op), estimateMemory is
// within 5 % of the ledger peak, and bad inputs are ConfigErrors.

import { describe, expect, it } from 'vitest';
import '../../src/engine/methods/qzo/index.ts';
import { CONFIG_FILE, unpackScales } from '../../src/engine/methods/qzo/index.ts';
import { getMethod } from '../../src/engine/methods/registry.ts';
import { ConfigError, parseConfig } from '../../src/engine/config/schema.ts';
import type { Batch, RunShape } from '../../src/engine/methods/types.ts';
import { LlamaModel } from '../../src/engine/model/llama.ts';
import { loadModel } from '../../src/engine/model/load.ts';
import { nodeModelDir } from '../../src/engine/io/node-dir.ts';
import type { BasePrecision } from '../../src/engine/model/decoder.ts';
import { trainerConfig } from '../../src/engine/config/trainer.ts';
import { expectClose, rng, testGpu } from '../helpers/gpu.ts';
import { LLAMA, QWEN2, tinyModel } from '../helpers/tiny-model.ts';

const GPT2_DIR = new URL('../fixtures/models/gpt2', import.meta.url).pathname;

function memorisationBatch(vocab: number, B = 2, T = 8): Batch {
  const r = rng(3);
  const ids = Array.from({ length: B * T }, () => Math.floor(r() * vocab));
  return { ids, targets: [...ids.slice(1), ids[0]], mask: ids.map(() => 1), B, T };
}

const m = getMethod('qzo');
const shape = (precision: BasePrecision): RunShape => ({ B: 2, T: 8, precision });
const sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);

async function quantWords(model: { linears: ReadonlyMap<string, { w: { kind: string } }> }, gpu: Awaited<ReturnType<typeof testGpu>>, part: 'codes' | 'scales') {
  const out = new Map<string, Uint32Array>();
  for (const [n, l] of model.linears) if (l.w.kind === 'quant') out.set(n, await gpu.readU32((l.w as unknown as { q: Record<typeof part, Parameters<typeof gpu.readU32>[0]> }).q[part]));
  return out;
}

describe('qzo', () => {
  // First in the file, so that no other test's pooled buffers sit on the ledger.
  it('estimateMemory is within 5 % of the ledger peak (q4, inference + the scales)', async () => {
    const gpu = await testGpu();
    const { spec, files } = tinyModel(QWEN2, 5);
    const ledger = gpu.arena.ledger;
    const trainer = trainerConfig({ ...m.trainerDefaults });
    const cfg = parseConfig(m.schema, { samples: 2 });
    const batch = memorisationBatch(spec.vocab);
    gpu.arena.trim();
    const base = ledger.snapshot().totalLive;
    ledger.resetPeak();
    const model = await LlamaModel.load(gpu, files, { precision: 'q4' });
    await model.loss(batch.ids, batch.targets, batch.mask, 2, 8);
    const forwardPeak = ledger.snapshot().totalPeak - base;
    const state = await m.attach(model, cfg, { seed: 3, trainer, shape: shape('q4') });
    for (let t = 1; t <= 3; t++) await state.step([batch], { step: t, lr: trainer.lr, trainer });
    const s = ledger.snapshot();
    const peak = s.totalPeak - base;
    const est = m.estimateMemory(spec, cfg, shape('q4'), trainer);
    console.log(`qzo memory: forward-only ${forwardPeak} B, steps ${peak} B, scales ${s.live.adapter} B, estimate ${sum(est)} B`, est);
    expect(s.live.adapter).toBe(est.adapter);
    expect(Math.abs(sum(est) - peak)).toBeLessThanOrEqual(0.05 * peak);
    state.dispose();
    model.dispose();
  });

  it('codes never change; scales do; +ε / −ε / restore give back the exact words; logits change', async () => {
    const gpu = await testGpu();
    for (const precision of ['q8', 'q4', 'nf4'] as const) {
      const { spec, files } = tinyModel(LLAMA, 11);
      const model = await LlamaModel.load(gpu, files, { precision });
      const batch = memorisationBatch(spec.vocab);
      const codes0 = await quantWords(model, gpu, 'codes');
      const scales0 = await quantWords(model, gpu, 'scales');
      const logits0 = await model.logits(batch.ids, 2, 8);
      const trainer = trainerConfig({ ...m.trainerDefaults, lr: 0.1 });
      const state = await m.attach(model, parseConfig(m.schema, {}), { seed: 5, trainer, shape: shape(precision) });
      expect(state.trainableParams).toBe([...scales0.keys()].reduce((a, n) => a + model.linears.get(n)!.out * Math.ceil(model.linears.get(n)!.in / 32), 0));
      // A step with lr = 0 runs the three phases and restores the words bit for bit.
      await state.step([batch], { step: 1, lr: 0, trainer });
      expect(await quantWords(model, gpu, 'scales')).toEqual(scales0);
      expect(await model.logits(batch.ids, 2, 8)).toEqual(logits0);
      for (let t = 2; t <= 4; t++) await state.step([batch], { step: t, lr: trainer.lr, trainer });
      expect(await quantWords(model, gpu, 'codes')).toEqual(codes0);
      const scales1 = await quantWords(model, gpu, 'scales');
      let changed = 0;
      for (const [n, w] of scales1) {
        const a = unpackScales(scales0.get(n)!, model.linears.get(n)!.out);
        const b = unpackScales(w, model.linears.get(n)!.out);
        for (let i = 0; i < a.length; i++) {
          if (a[i] !== b[i]) changed++;
          expect(Math.sign(b[i]) === 0 || Math.sign(b[i]) === Math.sign(a[i]) || a[i] === 0, `${precision} ${n}[${i}] crossed 0`).toBe(true);
        }
      }
      expect(changed, precision).toBeGreaterThan(0);
      const logits1 = await model.logits(batch.ids, 2, 8);
      expect(logits1.some((v, i) => v !== logits0[i])).toBe(true);
      state.dispose();
      model.dispose();
    }
  });

  // Loss falling on a memorisation batch (q8): the shared battery's qzo case.

  it('export → import into a freshly quantized base gives the same logits; merge changes nothing', async () => {
    const gpu = await testGpu();
    for (const [where, precision] of [['qwen2', 'q8'], ['gpt2', 'q4'], ['qwen2', 'nf4']] as const) {
      const load = () => (where === 'gpt2' ? loadModel(gpu, nodeModelDir(GPT2_DIR), { precision }) : LlamaModel.load(gpu, tinyModel(QWEN2, 9).files, { precision }));
      const model = await load();
      const trainer = trainerConfig({ ...m.trainerDefaults, lr: 0.1 });
      const opts = { seed: 2, trainer, shape: shape(precision), baseModel: where };
      const state = await m.attach(model, parseConfig(m.schema, { targets: where === 'gpt2' ? 'c_attn,c_fc' : 'all-linear' }), opts);
      const batch = memorisationBatch(model.spec.vocab);
      const before = await model.logits(batch.ids, 2, 8);
      for (let t = 1; t <= 3; t++) await state.step([batch], { step: t, lr: trainer.lr, trainer });
      const trained = await model.logits(batch.ids, 2, 8);
      expect(trained.some((v, i) => v !== before[i]), `${where} trained`).toBe(true);
      const files = await state.exportFiles();
      expect(files.map((f) => f.name).sort()).toEqual([CONFIG_FILE, 'qzo_scales.safetensors']);
      const cfg = JSON.parse(new TextDecoder().decode(files.find((f) => f.name === CONFIG_FILE)!.bytes));
      expect(cfg.quant_format).toBe(precision);
      const fresh = await load();
      const imported = await m.importFiles!(fresh, files, opts);
      expectClose(await fresh.logits(batch.ids, 2, 8), trained, 0, 0, `${where} ${precision} imported`);
      await imported.merge();
      expectClose(await fresh.logits(batch.ids, 2, 8), trained, 0, 0, `${where} ${precision} merged`);
      // A base quantized differently is refused.
      const other = where === 'gpt2' ? await loadModel(gpu, nodeModelDir(GPT2_DIR), { precision: 'q8' }) : await LlamaModel.load(gpu, tinyModel(QWEN2, 9).files, { precision: precision === 'q8' ? 'q4' : 'q8' });
      await expect(m.importFiles!(other, files, opts)).rejects.toThrow(ConfigError);
      for (const x of [imported, state]) x.dispose();
      for (const x of [other, fresh, model]) x.dispose();
    }
  });

  it('--clip bounds each update: |ΔΔ| ≤ lr·clip·u·max|z| per scale', async () => {
    const gpu = await testGpu();
    const { spec, files } = tinyModel(LLAMA, 5);
    const model = await LlamaModel.load(gpu, files, { precision: 'q8' });
    const clip = 1e-3;
    const trainer = trainerConfig({ ...m.trainerDefaults, lr: 10 });
    const state = await m.attach(model, parseConfig(m.schema, { clip }), { seed: 4, trainer, shape: shape('q8') });
    const before = await state.saveState();
    const r = await state.step([memorisationBatch(spec.vocab)], { step: 1, lr: trainer.lr, trainer });
    expect(r.gradNorm!).toBeGreaterThan(clip); // the clip is active
    const after = await state.saveState();
    for (const [name, a] of before) {
      const unit = a.reduce((x, v) => x + Math.abs(v), 0) / a.length;
      const b = after.get(name)!;
      let worst = 0;
      for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(b[i] - a[i]));
      expect(worst, name).toBeLessThanOrEqual(trainer.lr * clip * unit * 5.8 * (1 + 1e-6));
      expect(worst, name).toBeGreaterThan(0);
    }
    state.dispose();
    model.dispose();
  });

  it('an f32 base, bad options and bad files are ConfigErrors', async () => {
    const { spec } = tinyModel(LLAMA, 1);
    const cfg = parseConfig(m.schema, {});
    expect(() => m.check(spec, cfg, shape('f32'))).toThrow(/--quant/);
    expect(() => m.check(spec, { ...cfg, targets: ['c_attn'] }, shape('q8'))).toThrow(ConfigError);
    for (const bad of [{ eps: 0 }, { clip: -1 }, { samples: 0 }]) expect(() => parseConfig(m.schema, bad)).toThrow(ConfigError);
    const gpu = await testGpu();
    const f32 = await LlamaModel.load(gpu, tinyModel(LLAMA, 1).files);
    const opts = { seed: 1, trainer: trainerConfig(), shape: shape('f32') };
    await expect(m.attach(f32, cfg, opts)).rejects.toThrow(ConfigError);
    const q8 = await LlamaModel.load(gpu, tinyModel(LLAMA, 1).files, { precision: 'q8' });
    await expect(m.importFiles!(q8, [], { ...opts, shape: shape('q8') })).rejects.toThrow(ConfigError);
    const st = await m.attach(q8, cfg, { ...opts, shape: shape('q8') });
    const files = await st.exportFiles();
    st.dispose();
    await expect(m.importFiles!(f32, files, opts)).rejects.toThrow(/quantized base/);
    f32.dispose();
    q8.dispose();
  });
});
