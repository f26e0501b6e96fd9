// The shared method battery (DESIGN.md) for every registered method: gradients against
// finite differences (first-order methods), loss falls on a memorisation task, export then
// import gives the same logits, merge gives the same logits as the unmerged adapter.

import { describe, expect, it } from 'vitest';
import '../../src/engine/methods/all.ts';
import { labelledMethods } from '../../src/engine/methods/labels.ts';
import { getMethod, methodNames } from '../../src/engine/methods/registry.ts';
import { parseConfig } from '../../src/engine/config/schema.ts';
import type { Batch, MethodDef, RunShape } from '../../src/engine/methods/types.ts';
import { LlamaModel } from '../../src/engine/model/llama.ts';
import { llamaLossRef, type RefWeights } from '../../src/engine/model/llama.ref.ts';
import { loadModel } from '../../src/engine/model/load.ts';
import { nodeModelDir } from '../../src/engine/io/node-dir.ts';
import { trainerConfig, type TrainerConfig } from '../../src/engine/config/trainer.ts';
import { expectClose, randn, rng, testGpu } from '../helpers/gpu.ts';
import { expectGradsMatchFiniteDifferences, LLAMA, QWEN2, tinyModel } from '../helpers/tiny-model.ts';

const GPT2_DIR = new URL('../fixtures/models/gpt2', import.meta.url).pathname;

/** Each method under the settings the battery runs it with. */
const CASES: { method: string; label: string; cfg: Record<string, unknown>; trainer: Partial<TrainerConfig>; steps: number; drop: number; precision?: RunShape['precision'] }[] = [
  { method: 'full', label: 'full', cfg: {}, trainer: { lr: 3e-2 }, steps: 25, drop: 0.4 },
  { method: 'lora', label: 'lora r=4 all-linear', cfg: { rank: 4, targets: 'all-linear', alpha: 8 }, trainer: { lr: 5e-2 }, steps: 25, drop: 0.6 },
  { method: 'lora', label: 'lora rsLoRA r=2 q,v', cfg: { rank: 2, rslora: true }, trainer: { lr: 5e-2, optimizer: 'sgd', momentum: 0.9 }, steps: 25, drop: 0.9 },
  { method: 'lora', label: 'dora r=4 all-linear', cfg: { rank: 4, targets: 'all-linear', alpha: 8, dora: true }, trainer: { lr: 5e-2 }, steps: 25, drop: 0.6 },
  { method: 'mezo', label: 'mezo all weights', cfg: { eps: 1e-3, samples: 4 }, trainer: { lr: 3e-3, optimizer: 'sgd', maxGradNorm: 0 }, steps: 60, drop: 0.95 },
  { method: 'mezo', label: 'mezo ZO-LoRA', cfg: { trainable: 'lora', rank: 4, targets: 'all-linear', samples: 4 }, trainer: { lr: 5e-2, optimizer: 'sgd', maxGradNorm: 0 }, steps: 60, drop: 0.97 },
  { method: 'shira', label: 'shira 20% random all-linear', cfg: { fraction: 0.2 }, trainer: { lr: 3e-2 }, steps: 25, drop: 0.6 },
  { method: 'shira', label: 'shira count=40 weight mask', cfg: { count: 40, mask: 'weight' }, trainer: { lr: 5e-2, optimizer: 'sgd', momentum: 0.9 }, steps: 25, drop: 0.9 },
  { method: 'sparse-mezo', label: 'sparse-mezo fraction 0.5', cfg: { fraction: 0.5, samples: 4 }, trainer: { lr: 1e-2, optimizer: 'sgd', maxGradNorm: 0 }, steps: 40, drop: 0.8 },
  // QZO trains a quantized base's scales: it runs on a q8 base (its own test covers q4 and nf4).
  { method: 'qzo', label: 'qzo on q8 scales', cfg: { samples: 4 }, trainer: { lr: 0.1 }, steps: 40, drop: 0.9, precision: 'q8' },
];

function memorisationBatch(vocab: number, B = 2, T = 8): Batch {
  const r = rng(3);
  const ids = Array.from({ length: B * T }, () => Math.floor(r() * vocab));
  return { ids, targets: [...ids.slice(1), ids[0]], mask: ids.map(() => 1), B, T };
}

function setup(m: MethodDef, c: (typeof CASES)[number], precision: RunShape['precision'] = c.precision ?? 'f32') {
  const cfg = parseConfig(m.schema, c.cfg);
  const trainer = trainerConfig({ ...m.trainerDefaults, ...c.trainer, steps: c.steps });
  return { cfg, trainer, opts: { seed: 7, trainer, shape: { B: 2, T: 8, precision } } };
}

describe('method battery', () => {
  it('every registered method has a case here, and every case a registered method', () => {
    const cased = new Set(CASES.map((c) => c.method));
    for (const n of methodNames()) expect(cased.has(n), `method "${n}" has no case in the battery`).toBe(true);
    for (const c of CASES) expect(methodNames()).toContain(c.method);
    // Each also gives its own run label to the page (methods/<m>/label.ts).
    expect(labelledMethods()).toEqual(methodNames());
  });

  for (const c of CASES) {
    it(`${c.label}: loss on a memorisation batch falls below ${c.drop}× its start in ${c.steps} steps`, async () => {
      const gpu = await testGpu();
      const { spec, files } = tinyModel(LLAMA, 5);
      const model = await LlamaModel.load(gpu, files, { precision: c.precision ?? 'f32' });
      const m = getMethod(c.method);
      const { cfg, trainer, opts } = setup(m, c);
      m.check(spec, cfg, opts.shape);
      const state = await m.attach(model, cfg, opts);
      const batch = memorisationBatch(spec.vocab);
      const first = (await model.loss(batch.ids, batch.targets, batch.mask, 2, 8)).loss;
      for (let t = 1; t <= c.steps; t++) {
        const r = await state.step([batch], { step: t, lr: trainer.lr, trainer });
        expect(Number.isFinite(r.loss)).toBe(true);
      }
      const last = (await model.loss(batch.ids, batch.targets, batch.mask, 2, 8)).loss;
      expect(last).toBeLessThan(first * c.drop);
      state.dispose();
      model.dispose();
    });

    it(`${c.label}: export → import gives the same logits; merge gives the same logits as unmerged`, async () => {
      const gpu = await testGpu();
      for (const where of ['llama', 'gpt2'] as const) {
        const precision = c.precision ?? 'f32';
        const load = async () => (where === 'gpt2' ? loadModel(gpu, nodeModelDir(GPT2_DIR), { precision }) : LlamaModel.load(gpu, tinyModel(QWEN2, 9).files, { precision }));
        const model = await load();
        const m = getMethod(c.method);
        const { cfg, trainer, opts } = setup(m, c);
        const state = await m.attach(model, cfg, opts);
        const batch = memorisationBatch(model.spec.vocab);
        for (let t = 1; t <= 3; t++) await state.step([batch], { step: t, lr: trainer.lr, trainer });
        const trained = await model.logits(batch.ids, 2, 8);
        const files = await state.exportFiles();
        expect(files.length).toBeGreaterThan(0);
        // Import into a fresh copy of the base.
        const fresh = await load();
        expect(m.importFiles).toBeDefined();
        const imported = await m.importFiles!(fresh, files, opts);
        expectClose(await fresh.logits(batch.ids, 2, 8), trained, 1e-5, 1e-5, `${c.label} ${where} imported`);
        // Merge: the same function with the adapter folded into the weights.
        await imported.merge();
        expectClose(await fresh.logits(batch.ids, 2, 8), trained, 1e-4, 1e-4, `${c.label} ${where} merged`);
        expect([...fresh.linears.values()].every((l) => !l.adapter)).toBe(true);
        imported.dispose();
        state.dispose();
        fresh.dispose();
        model.dispose();
      }
    });
  }

  it('lora: dA and dB match finite differences of the f64 reference with W + s·B·A (B non-zero)', async () => {
    const gpu = await testGpu();
    for (const [config, rslora] of [[LLAMA, false], [QWEN2, true]] as const) {
      const { spec, files, weights } = tinyModel(config, 21);
      const model = await LlamaModel.load(gpu, files);
      const m = getMethod('lora');
      const cfg = parseConfig(m.schema, { rank: 3, alpha: 5, targets: 'q_proj,k_proj,down_proj', rslora });
      const state = await m.attach(model, cfg, { seed: 1, trainer: trainerConfig(), shape: { B: 1, T: 6, precision: 'f32' } });
      const ref: RefWeights = new Map([...weights].map(([k, v]) => [k, Float64Array.from(v)]));
      const ab = new Map<string, Float64Array>();
      for (const [i, t] of state.tensors().entries()) {
        const v = t.name.endsWith('lora_B.weight') ? randn(t.n, 50 + i, -0.3, 0.3) : await gpu.readF32(t.buf);
        gpu.write(t.buf, v);
        ab.set(t.name, Float64Array.from(v));
      }
      const s = rslora ? 5 / Math.sqrt(3) : 5 / 3;
      const merged = (): RefWeights => {
        const w: RefWeights = new Map(ref);
        for (const [name, base] of ref) {
          const mod = name.slice(0, -'.weight'.length);
          const A = ab.get(`${mod}.lora_A.weight`);
          const Bm = ab.get(`${mod}.lora_B.weight`);
          if (!A || !Bm) continue;
          const inp = A.length / 3;
          const out = Bm.length / 3;
          const d = new Float64Array(out * inp);
          for (let o = 0; o < out; o++) for (let k = 0; k < inp; k++) {
            let acc = 0;
            for (let q = 0; q < 3; q++) acc += Bm[o * 3 + q] * A[q * inp + k];
            d[o * inp + k] = s * acc;
          }
          w.set(name, Float64Array.from(base, (x, i) => x + d[i]));
        }
        return w;
      };
      const r = rng(4);
      const ids = Array.from({ length: 6 }, () => Math.floor(r() * spec.vocab));
      const targets = Array.from({ length: 6 }, () => Math.floor(r() * spec.vocab));
      const mask = ids.map((_, i) => (i < 2 ? 0 : 1));
      const ga = gpu.arena.child();
      const names = new Set(state.tensors().map((t) => t.name));
      const { loss, grads } = await model.lossAndGrads(ids, targets, mask, 1, 6, ga, (n) => names.has(n));
      expect([...grads.keys()].sort()).toEqual([...names].sort()); // only adapter gradients
      expect(Math.abs(loss - llamaLossRef(spec, merged(), ids, targets, mask, 1, 6))).toBeLessThan(1e-5 * Math.max(1, loss));
      await expectGradsMatchFiniteDifferences(gpu, grads, ab, () => llamaLossRef(spec, merged(), ids, targets, mask, 1, 6), (n) => [0, Math.floor(n / 3), n - 1]);
      ga.dispose();
      state.dispose();
      model.dispose();
    }
  });

  it('full: the chosen subset only gets gradients, and they match finite differences', async () => {
    const gpu = await testGpu();
    const { spec, files, weights } = tinyModel(QWEN2, 31);
    const model = await LlamaModel.load(gpu, files);
    const m = getMethod('full');
    const cfg = parseConfig(m.schema, { targets: 'v_proj,input_layernorm', layers: '1' });
    const state = await m.attach(model, cfg, { seed: 1, trainer: trainerConfig(), shape: { B: 1, T: 5, precision: 'f32' } });
    const names = new Set(state.tensors().map((t) => t.name));
    expect([...names].sort()).toEqual(['model.layers.1.input_layernorm.weight', 'model.layers.1.self_attn.v_proj.bias', 'model.layers.1.self_attn.v_proj.weight']);
    const ref: RefWeights = new Map([...weights].map(([k, v]) => [k, Float64Array.from(v)]));
    const ids = [3, 1, 4, 1, 5];
    const targets = [9, 2, 6, 5, 3];
    const mask = [1, 1, 1, 1, 1];
    const ga = gpu.arena.child();
    const { grads } = await model.lossAndGrads(ids, targets, mask, 1, 5, ga, (n) => names.has(n));
    expect([...grads.keys()].sort()).toEqual([...names].sort());
    await expectGradsMatchFiniteDifferences(gpu, grads, ref, () => llamaLossRef(spec, ref, ids, targets, mask, 1, 5), (n) => [0, n - 1]);
    ga.dispose();
    state.dispose();
    model.dispose();
  });
});
