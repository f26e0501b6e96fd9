// SHiRA beyond the shared battery: exactly the masked entries move (bit for bit), K values of
// gradient and AdamW state per target, sddmm gradients against finite differences of the f64
// reference, the three masks, bad input, the PEFT file layout, and estimateMemory against
// the ledger on the built-in model.

import { describe, expect, it } from 'vitest';
import '../../src/engine/methods/all.ts';
import { bytesSource } from '../../src/engine/io/bytes.ts';
import { nodeModelDir } from '../../src/engine/io/node-dir.ts';
import { SafetensorsFile } from '../../src/engine/io/safetensors.ts';
import { getMethod } from '../../src/engine/methods/registry.ts';
import { ConfigError, parseConfig } from '../../src/engine/config/schema.ts';
import { randomMask, topKMask } from '../../src/engine/methods/shira/mask.ts';
import type { Batch, ExportFile, MethodDef, RunShape } from '../../src/engine/methods/types.ts';
import { LlamaModel } from '../../src/engine/model/llama.ts';
import { llamaLossRef, type RefWeights } from '../../src/engine/model/llama.ref.ts';
import { loadModel, type CausalLM } from '../../src/engine/model/load.ts';
import { trainerConfig } from '../../src/engine/config/trainer.ts';
import { rng, testGpu } from '../helpers/gpu.ts';
import { LLAMA, QWEN2, tinyModel } from '../helpers/tiny-model.ts';

const GPT2_DIR = new URL('../fixtures/models/gpt2', import.meta.url).pathname;
const KJV_DIR = new URL('../../public/models/tiny-kjv', import.meta.url).pathname;
const m: MethodDef = getMethod('shira');

function batch(vocab: number, B = 2, T = 8, seed = 3): Batch {
  const r = rng(seed);
  const ids = Array.from({ length: B * T }, () => Math.floor(r() * vocab));
  return { ids, targets: [...ids.slice(1), ids[0]], mask: ids.map(() => 1), B, T };
}

function opts(shape: Partial<RunShape> = {}, trainer: Record<string, unknown> = {}, firstBatch?: Batch) {
  return { seed: 11, trainer: trainerConfig({ lr: 3e-2, ...trainer }), shape: { B: 2, T: 8, precision: 'f32' as const, ...shape }, firstBatch };
}

async function snapshot(model: CausalLM): Promise<Map<string, Uint32Array>> {
  const out = new Map<string, Uint32Array>();
  for (const [n, b] of model.params) out.set(n, new Uint32Array((await model.gpu.readF32(b)).buffer));
  return out;
}

/** Per module path: (row, col) pairs in [out, in] space and the values, from a PEFT export. */
async function readExport(files: readonly ExportFile[]) {
  const f = files.find((x) => x.name === 'adapter_model.safetensors');
  if (!f) throw new Error('no adapter_model.safetensors');
  const st = await SafetensorsFile.open(bytesSource(f.bytes, f.name));
  const config = JSON.parse(new TextDecoder().decode(files.find((x) => x.name === 'adapter_config.json')?.bytes)) as Record<string, unknown>;
  const mods = new Map<string, { rows: number[]; cols: number[]; vals: Float32Array }>();
  for (const name of st.tensors.keys()) {
    if (!name.endsWith('.shira_indices')) continue;
    const mod = name.slice('base_model.model.'.length, -'.shira_indices'.length);
    const ind = await st.readI32(name);
    const k = ind.length / 2;
    mods.set(mod, { rows: [...ind.slice(0, k)], cols: [...ind.slice(k)], vals: await st.readF32(`base_model.model.${mod}.shira_weight`) });
  }
  return { st, config, mods };
}

describe('shira', () => {
  it('estimateMemory matches the ledger peak on tiny-kjv (B=4, T=32) within 5 %, random and grad masks', async () => {
    const gpu = await testGpu();
    for (const mask of ['random', 'grad'] as const) {
      gpu.arena.trim();
      const liveBefore = gpu.ledger.snapshot().totalLive;
      const model = await loadModel(gpu, nodeModelDir(KJV_DIR));
      const b = batch(model.spec.vocab, 4, 32, 5);
      const cfg = parseConfig(m.schema, { mask });
      const o = opts({ B: 4, T: 32 }, {}, b);
      const est = m.estimateMemory(model.spec, cfg, o.shape, o.trainer);
      const estTotal = Object.values(est).reduce((a, x) => a + x, 0);
      gpu.ledger.resetPeak();
      const state = await m.attach(model, cfg, o);
      for (let t = 1; t <= 2; t++) await state.step([b], { step: t, lr: 1e-3, trainer: o.trainer });
      const snap = gpu.ledger.snapshot();
      const measured = snap.totalPeak - liveBefore;
      console.log(`shira ${mask}: estimate ${estTotal} B ${JSON.stringify(est)}; measured peak ${measured} B (peak by category ${JSON.stringify(snap.peak)}); ratio ${(measured / estTotal).toFixed(4)}`);
      expect(Math.abs(measured - estTotal) / estTotal).toBeLessThan(0.05);
      // AdamW: m and v of the K values (and the optimizer's 4-byte placeholder), no more.
      const K = state.trainableParams;
      expect(snap.peak.optimizer).toBe(8 * K);
      if (mask === 'random') expect(est.optimizer).toBe(8 * K);
      state.dispose();
      model.dispose();
    }
  });

  it('trains exactly the masked entries: everything else stays bit-identical; K values of gradient and AdamW state per target', async () => {
    const gpu = await testGpu();
    const model = await LlamaModel.load(gpu, tinyModel(LLAMA, 5).files);
    const before = await snapshot(model);
    const optBefore = gpu.ledger.snapshot().live.optimizer;
    const cfg = parseConfig(m.schema, { fraction: 0.1, targets: 'q_proj,up_proj,down_proj' });
    const state = await m.attach(model, cfg, opts());
    const targets = [...model.linears.values()].filter((l) => /(q_proj|up_proj|down_proj)$/.test(l.name));
    const ks = targets.map((l) => Math.round(0.1 * l.out * l.in));
    expect(state.tensors().map((t) => [t.name, t.n])).toEqual(targets.map((l, i) => [`${l.name}.shira_weight`, ks[i]]));
    const K = ks.reduce((a, b) => a + b, 0);
    expect(state.trainableParams).toBe(K);
    expect(gpu.ledger.snapshot().live.optimizer - optBefore).toBe(2 * 4 * K);
    // Only the shira values get gradients, K each.
    const b = batch(model.spec.vocab);
    const ga = gpu.arena.child();
    const names = new Set(state.tensors().map((t) => t.name));
    const { grads } = await model.lossAndGrads(b.ids, b.targets, b.mask, 2, 8, ga, (n) => names.has(n));
    expect([...grads.entries()].map(([n, g]) => [n, g.size / 4]).sort()).toEqual(targets.map((l, i) => [`${l.name}.shira_weight`, ks[i]]).sort());
    ga.dispose();
    for (let t = 1; t <= 3; t++) await state.step([b], { step: t, lr: 3e-2, trainer: opts().trainer });
    const after = await snapshot(model);
    const { mods } = await readExport(await state.exportFiles());
    for (const [name, w0] of before) {
      const w1 = after.get(name);
      if (!w1) throw new Error(name);
      const mod = mods.get(name.slice(0, -'.weight'.length));
      const changed = [...w0.keys()].filter((i) => w0[i] !== w1[i]);
      if (!mod) {
        expect(changed, `${name} is not a target`).toEqual([]);
        continue;
      }
      const l = model.linears.get(name.slice(0, -'.weight'.length));
      if (!l) throw new Error(name);
      const masked = new Set(mod.rows.map((r, j) => r * l.in + mod.cols[j]));
      expect(changed.every((i) => masked.has(i)), `${name}: only masked entries change`).toBe(true);
      expect(changed.length).toBeGreaterThan(0.9 * masked.size);
      // W = fl(W0 + Δ) at the mask: merging is exact.
      const f0 = new Float32Array(w0.buffer);
      const f1 = new Float32Array(w1.buffer);
      mod.rows.forEach((r, j) => expect(f1[r * l.in + mod.cols[j]]).toBe(Math.fround(f0[r * l.in + mod.cols[j]] + mod.vals[j])));
    }
    // dispose takes the adapter off: the base comes back bit for bit.
    state.dispose();
    const back = await snapshot(model);
    for (const [name, w0] of before) expect([...(back.get(name) ?? [])].every((v, i) => v === w0[i]), name).toBe(true);
    expect([...model.linears.values()].every((l) => !l.adapter)).toBe(true);
    model.dispose();
  });

  it('gradients of the masked entries match finite differences of the f64 reference (Δ non-zero)', async () => {
    const gpu = await testGpu();
    for (const config of [LLAMA, QWEN2]) {
      const { spec, files } = tinyModel(config, 21);
      const model = await LlamaModel.load(gpu, files);
      const cfg = parseConfig(m.schema, { count: 30, targets: 'q_proj,k_proj,o_proj,down_proj' });
      const state = await m.attach(model, cfg, opts({ B: 1, T: 6 }));
      await state.step([batch(spec.vocab)], { step: 1, lr: 5e-2, trainer: opts().trainer }); // Δ ≠ 0
      const ref: RefWeights = new Map();
      for (const [n, b] of model.params) ref.set(n, Float64Array.from(await gpu.readF32(b)));
      const { mods } = await readExport(await state.exportFiles());
      const r = rng(4);
      const ids = Array.from({ length: 6 }, () => Math.floor(r() * spec.vocab));
      const targets = Array.from({ length: 6 }, () => Math.floor(r() * spec.vocab));
      const mask = ids.map((_, i) => (i < 2 ? 0 : 1));
      const ga = gpu.arena.child();
      const names = new Set(state.tensors().map((t) => t.name));
      const { grads } = await model.lossAndGrads(ids, targets, mask, 1, 6, ga, (n) => names.has(n));
      expect([...grads.keys()].sort()).toEqual([...names].sort());
      const h = 1e-5;
      for (const [gname, gbuf] of grads) {
        const mod = gname.slice(0, -'.shira_weight'.length);
        const l = model.linears.get(mod);
        const e = mods.get(mod);
        const w = ref.get(`${mod}.weight`);
        if (!l || !e || !(w instanceof Float64Array)) throw new Error(mod);
        const g = await gpu.readF32(gbuf);
        for (const j of [0, 7, e.rows.length - 1]) {
          const at = e.rows[j] * l.in + e.cols[j]; // Llama (out, in): export order = storage order
          const old = w[at];
          w[at] = old + h;
          const lp = llamaLossRef(spec, ref, ids, targets, mask, 1, 6);
          w[at] = old - h;
          const lm = llamaLossRef(spec, ref, ids, targets, mask, 1, 6);
          w[at] = old;
          const fd = (lp - lm) / (2 * h);
          expect(Math.abs(g[j] - fd), `${gname}[${j}]: gpu ${g[j]} vs fd ${fd}`).toBeLessThanOrEqual(2e-5 + 2e-3 * Math.abs(fd));
        }
      }
      ga.dispose();
      state.dispose();
      model.dispose();
    }
  });

  it('masks: random is seeded, weight picks the largest |w|, grad the largest |∂L/∂w| of one backward on the first batch', async () => {
    const gpu = await testGpu();
    const { spec, files, weights } = tinyModel(LLAMA, 8);
    const b = batch(spec.vocab);
    const masksOf = async (mask: string, seed = 11) => {
      const model = await LlamaModel.load(gpu, files);
      const state = await m.attach(model, parseConfig(m.schema, { count: 25, mask, targets: 'v_proj,gate_proj' }), { ...opts({}, {}, b), seed });
      const { mods, config } = await readExport(await state.exportFiles());
      state.dispose();
      model.dispose();
      return { mods, config };
    };
    const flat = (e: { rows: number[]; cols: number[] }, inp: number) => e.rows.map((r, j) => r * inp + e.cols[j]);
    const shapeOf = (mod: string) => (mod.endsWith('v_proj') ? { out: spec.kvHeads * spec.headDim, in: spec.hidden } : { out: spec.intermediate, in: spec.hidden });
    // random: the same seed gives the same mask (Floyd over Philox, stream = layer), another seed another.
    const r1 = await masksOf('random');
    const r2 = await masksOf('random');
    const r3 = await masksOf('random', 12);
    expect(r1.config.mask_type).toBe('random');
    expect(r1.config.random_seed).toBe(11);
    for (const [mod, e] of r1.mods) {
      expect(flat(e, shapeOf(mod).in)).toEqual(flat(r2.mods.get(mod) ?? { rows: [], cols: [] }, shapeOf(mod).in));
      expect(flat(e, shapeOf(mod).in)).not.toEqual(flat(r3.mods.get(mod) ?? { rows: [], cols: [] }, shapeOf(mod).in));
      expect(new Set(flat(e, shapeOf(mod).in)).size).toBe(25);
    }
    const rm = randomMask(1000, 1000, 3, 0);
    expect([...rm]).toEqual(Array.from({ length: 1000 }, (_, i) => i)); // K = n takes everything
    // weight: the top 25 |w| of each base matrix.
    const wm = await masksOf('weight');
    for (const [mod, e] of wm.mods) expect(flat(e, shapeOf(mod).in)).toEqual([...topKMask(weights.get(`${mod}.weight`) ?? [], 25)]);
    // grad: the top 25 |dW| of the dense gradient at the base, on the first batch.
    const gm = await masksOf('grad');
    const model = await LlamaModel.load(gpu, files);
    const ga = gpu.arena.child();
    const wanted = new Set([...gm.mods.keys()].map((k) => `${k}.weight`));
    const { grads } = await model.lossAndGrads(b.ids, b.targets, b.mask, 2, 8, ga, (n) => wanted.has(n));
    for (const [mod, e] of gm.mods) {
      const g = grads.get(`${mod}.weight`);
      if (!g) throw new Error(mod);
      expect(flat(e, shapeOf(mod).in)).toEqual([...topKMask(await gpu.readF32(g), 25)]);
    }
    ga.dispose();
    // grad without the first batch: a clear error, nothing left attached.
    await expect(m.attach(model, parseConfig(m.schema, { mask: 'grad' }), opts())).rejects.toThrow(/--mask grad needs the first training batch/);
    expect([...model.linears.values()].every((l) => !l.adapter)).toBe(true);
    model.dispose();
  });

  it('bad input is a ConfigError naming the flag, before any GPU work', async () => {
    const { spec } = tinyModel(LLAMA, 1);
    const shape: RunShape = { B: 1, T: 4, precision: 'f32' };
    const cfg = (c: Record<string, unknown>) => ({ ...parseConfig(m.schema, {}), ...c }) as never;
    expect(() => parseConfig(m.schema, { fraction: 0 })).toThrow(/--fraction/);
    expect(() => parseConfig(m.schema, { fraction: 1.5 })).toThrow(/--fraction/);
    expect(() => m.check(spec, cfg({ fraction: 0 }), shape)).toThrow(/--fraction should be in \(0, 1\]/);
    expect(() => m.check(spec, cfg({ fraction: 1.01 }), shape)).toThrow(ConfigError);
    expect(() => m.check(spec, cfg({ count: 16 * 8 + 1, targets: ['k_proj'] }), shape)).toThrow(/--count 129 is more entries than model\.layers\.0\.self_attn\.k_proj \(8×16 = 128\)/);
    expect(() => m.check(spec, cfg({ rank: 6 }), shape)).toThrow(/--rank 6/);
    expect(() => m.check(spec, cfg({ targets: ['c_attn'] }), shape)).toThrow(/--targets: LlamaForCausalLM has no module "c_attn"/);
    expect(() => m.check(spec, cfg({}), { ...shape, precision: 'q4' })).toThrow(/--quant f32/);
    expect(() => m.check(spec, cfg({ fraction: 1 }), shape)).not.toThrow();
    expect(() => m.check(spec, cfg({ count: 128, targets: ['k_proj'] }), shape)).not.toThrow();
    // attach on a quantized base refuses before touching it.
    const gpu = await testGpu();
    const model = await LlamaModel.load(gpu, tinyModel(LLAMA, 1).files, { precision: 'q8' });
    await expect(m.attach(model, cfg({}), opts({ precision: 'q8' }))).rejects.toThrow(/--quant f32/);
    model.dispose();
  });

  it('PEFT layout: keys, dtypes, shapes, config; GPT-2 Conv1D indices in [out, in] space under transformer.', async () => {
    const gpu = await testGpu();
    for (const where of ['llama', 'gpt2'] as const) {
      const model = where === 'gpt2' ? await loadModel(gpu, nodeModelDir(GPT2_DIR)) : await LlamaModel.load(gpu, tinyModel(QWEN2, 9).files);
      const before = new Map<string, Float32Array>();
      for (const [n, b] of model.params) before.set(n, await gpu.readF32(b));
      const rank = 1;
      const state = await m.attach(model, parseConfig(m.schema, { rank }), { ...opts(), baseModel: 'some/base' });
      const b = batch(model.spec.vocab);
      for (let t = 1; t <= 2; t++) await state.step([b], { step: t, lr: 3e-2, trainer: opts().trainer });
      const files = await state.exportFiles();
      expect(files.map((f) => f.name).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
      const { st, config, mods } = await readExport(files);
      const kinds = where === 'gpt2' ? ['c_attn', 'c_proj', 'c_fc'] : ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];
      expect(config).toMatchObject({ peft_type: 'SHIRA', task_type: 'CAUSAL_LM', r: rank, mask_type: 'random', random_seed: 11, base_model_name_or_path: 'some/base', fan_in_fan_out: where === 'gpt2' });
      expect([...(config.target_modules as string[])].sort()).toEqual([...kinds].sort());
      const adapted = [...model.linears.values()].filter((l) => kinds.some((k) => l.name.endsWith(`.${k}`)));
      expect(adapted.length).toBe(where === 'gpt2' ? 8 : 14);
      expect(st.tensors.size).toBe(2 * adapted.length);
      for (const l of adapted) {
        const p = `base_model.model.${where === 'gpt2' && !l.name.startsWith('transformer.') ? `transformer.${l.name}` : l.name}`;
        if (where === 'gpt2') expect(p.startsWith('base_model.model.transformer.h.')).toBe(true);
        const k = rank * (l.in + l.out); // PEFT's size for r
        expect(st.info(`${p}.shira_weight`)).toMatchObject({ dtype: 'F32', shape: [k] });
        expect(st.info(`${p}.shira_indices`)).toMatchObject({ dtype: 'I32', shape: [2, k] });
        const e = mods.get(p.slice('base_model.model.'.length));
        if (!e) throw new Error(p);
        // Row-major [out, in] order, as torch.where lists a mask; rows < out, cols < in.
        const order = e.rows.map((r, j) => r * l.in + e.cols[j]);
        expect(order).toEqual([...order].sort((a, c) => a - c));
        expect(e.rows.every((r) => r >= 0 && r < l.out) && e.cols.every((c) => c >= 0 && c < l.in)).toBe(true);
        // The values are ΔW at (row, col): the trained weight minus the base, in its own storage order.
        const w0 = before.get(`${l.name}.weight`);
        const w1 = await gpu.readF32(l.w.kind === 'f32' ? l.w.buf : (undefined as never));
        if (!w0) throw new Error(l.name);
        e.rows.forEach((r, j) => {
          const at = l.w.layout === 'out-in' ? r * l.in + e.cols[j] : e.cols[j] * l.out + r;
          expect(w1[at]).toBe(Math.fround(w0[at] + e.vals[j]));
        });
      }
      state.dispose();
      model.dispose();
    }
  });

  it('a checkpoint (saveState → loadState) restores values, mask and AdamW state onto a state with another mask', async () => {
    const gpu = await testGpu();
    const { spec, files } = tinyModel(LLAMA, 13);
    const b = batch(spec.vocab);
    const cfg = parseConfig(m.schema, { fraction: 0.15 });
    const o = opts();
    const model = await LlamaModel.load(gpu, files);
    const state = await m.attach(model, cfg, o);
    for (let t = 1; t <= 2; t++) await state.step([b], { step: t, lr: 3e-2, trainer: o.trainer });
    const saved = await state.saveState();
    await state.step([b], { step: 3, lr: 3e-2, trainer: o.trainer });
    const want = await model.logits(b.ids, 2, 8);
    const fresh = await LlamaModel.load(gpu, files);
    const other = await m.attach(fresh, cfg, { ...o, seed: 99 }); // another random mask
    await other.loadState(saved);
    await other.step([b], { step: 3, lr: 3e-2, trainer: o.trainer });
    const got = await fresh.logits(b.ids, 2, 8);
    expect([...got].every((v, i) => v === want[i])).toBe(true);
    // Its base is the fresh model's W0: disposing brings that back bit for bit.
    other.dispose();
    const base = await LlamaModel.load(gpu, files);
    for (const [n, buf] of fresh.params) {
      const a = new Uint32Array((await gpu.readF32(buf)).buffer);
      const c = new Uint32Array((await gpu.readF32(base.params.get(n) ?? buf)).buffer);
      expect(a.every((v, i) => v === c[i]), n).toBe(true);
    }
    for (const x of [state, model, fresh, base]) x.dispose();
  });

  it('grad mask: export → import → merge give the same logits (llama)', async () => {
    const gpu = await testGpu();
    const { spec, files } = tinyModel(QWEN2, 17);
    const b = batch(spec.vocab);
    const o = opts({}, {}, b);
    const model = await LlamaModel.load(gpu, files);
    const state = await m.attach(model, parseConfig(m.schema, { mask: 'grad', fraction: 0.25 }), o);
    for (let t = 1; t <= 3; t++) await state.step([b], { step: t, lr: 3e-2, trainer: o.trainer });
    const want = await model.logits(b.ids, 2, 8);
    const fresh = await LlamaModel.load(gpu, files);
    const imported = await m.importFiles!(fresh, await state.exportFiles(), o);
    expect(imported.trainableParams).toBe(state.trainableParams);
    const got = await fresh.logits(b.ids, 2, 8);
    expect([...got].every((v, i) => v === want[i])).toBe(true); // the same f32 weights, bit for bit
    await imported.merge();
    expect([...(await fresh.logits(b.ids, 2, 8))].every((v, i) => v === want[i])).toBe(true);
    expect([...fresh.linears.values()].every((l) => !l.adapter)).toBe(true);
    // A LoRA export is not a SHiRA one.
    await expect(m.importFiles!(fresh, [{ name: 'adapter_config.json', bytes: new TextEncoder().encode('{"peft_type":"LORA"}') }, { name: 'adapter_model.safetensors', bytes: new Uint8Array() }], o)).rejects.toThrow(/expected "SHIRA"/);
    for (const x of [imported, state, model, fresh]) x.dispose();
  });
});
