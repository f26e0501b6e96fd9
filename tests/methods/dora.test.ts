// DoRA as the `lora` method's `dora` option: the forward against a float64 reference of
// W' = (m / n) ⊙ (W + s·B·A) (n = row norms over the input dimension), gradients of A, B
// and m against finite differences of that reference WITH n HELD FIXED at its current
// value (PEFT detaches the norm, DoRA §4.3, so the true gradient of the reference with a
// live n is not what is trained), the identity at B = 0, PEFT export keys, a q4 base
// (QDoRA) against the dequantized weights, and estimateMemory against the ledger.

import { describe, expect, it } from 'vitest';
import '../../src/engine/methods/all.ts';
import { nodeModelDir } from '../../src/engine/io/node-dir.ts';
import { SafetensorsFile, writeSafetensors } from '../../src/engine/io/safetensors.ts';
import { bytesSource } from '../../src/engine/io/bytes.ts';
import { getMethod } from '../../src/engine/methods/registry.ts';
import { ConfigError, parseConfig } from '../../src/engine/config/schema.ts';
import type { Trainable } from '../../src/engine/methods/types.ts';
import type { BasePrecision } from '../../src/engine/model/decoder.ts';
import { LlamaModel } from '../../src/engine/model/llama.ts';
import { llamaLossRef, type RefWeights } from '../../src/engine/model/llama.ref.ts';
import { loadModel } from '../../src/engine/model/load.ts';
import { dequantize, quantize } from '../../src/engine/quant/block.ts';
import { trainerConfig } from '../../src/engine/config/trainer.ts';
import { expectClose, randn, rng, testGpu } from '../helpers/gpu.ts';
import { expectGradsMatchFiniteDifferences, LLAMA, QWEN2, tinyModel } from '../helpers/tiny-model.ts';

const KJV = new URL('../../public/models/tiny-kjv', import.meta.url).pathname;
const GPT2_DIR = new URL('../fixtures/models/gpt2', import.meta.url).pathname;
const MAG = '.lora_magnitude_vector';

const m = () => getMethod('lora');

/** The f64 reference weights with every adapted W replaced by (m / n) ⊙ (W + s·B·A).
 *  `fixed`: row norms to use instead of the live ones (the detached-norm reference). */
function doraWeights(ref: RefWeights, ab: Map<string, Float64Array>, r: number, s: number, fixed?: Map<string, Float64Array>): { w: RefWeights; norms: Map<string, Float64Array> } {
  const w: RefWeights = new Map(ref);
  const norms = new Map<string, Float64Array>();
  for (const [name, base] of ref) {
    const mod = name.slice(0, -'.weight'.length);
    const A = ab.get(`${mod}.lora_A.weight`);
    const B = ab.get(`${mod}.lora_B.weight`);
    const mag = ab.get(`${mod}${MAG}`);
    if (!A || !B || !mag) continue;
    const inp = A.length / r;
    const out = B.length / r;
    const v = new Float64Array(out * inp);
    const n = new Float64Array(out);
    for (let o = 0; o < out; o++) {
      let n2 = 0;
      for (let i = 0; i < inp; i++) {
        let d = 0;
        for (let k = 0; k < r; k++) d += B[o * r + k] * A[k * inp + i];
        v[o * inp + i] = base[o * inp + i] + s * d;
        n2 += v[o * inp + i] ** 2;
      }
      n[o] = fixed?.get(mod)?.[o] ?? Math.sqrt(n2);
      for (let i = 0; i < inp; i++) v[o * inp + i] *= mag[o] / n[o];
    }
    w.set(name, v);
    norms.set(mod, n);
  }
  return { w, norms };
}

/** Base weights as the model holds them: f32, or each linear weight dequantized. */
function refBase(weights: Map<string, Float32Array>, model: LlamaModel, precision: BasePrecision): RefWeights {
  const ref: RefWeights = new Map([...weights].map(([k, v]) => [k, Float64Array.from(v)]));
  if (precision === 'f32') return ref;
  for (const l of model.linears.values()) {
    const w = weights.get(`${l.name}.weight`)!;
    ref.set(`${l.name}.weight`, Float64Array.from(dequantize(quantize(w, l.out, l.in, precision))));
  }
  return ref;
}

/** Random non-zero B and a magnitude moved off ‖W‖, written to the GPU; host copies. */
async function perturb(gpu: Awaited<ReturnType<typeof testGpu>>, state: Trainable, seed: number): Promise<Map<string, Float64Array>> {
  const ab = new Map<string, Float64Array>();
  for (const [i, t] of state.tensors().entries()) {
    let v = await gpu.readF32(t.buf);
    if (t.name.endsWith('lora_B.weight')) v = randn(t.n, seed + i, -0.3, 0.3);
    if (t.name.endsWith(MAG)) v = Float32Array.from(v, (x, j) => x * (0.7 + 0.6 * randn(1, seed * 100 + i * 7 + j)[0] ** 2));
    gpu.write(t.buf, v);
    ab.set(t.name, Float64Array.from(v));
  }
  return ab;
}

function batch(vocab: number, T: number, seed: number) {
  const r = rng(seed);
  const ids = Array.from({ length: T }, () => Math.floor(r() * vocab));
  const targets = Array.from({ length: T }, () => Math.floor(r() * vocab));
  return { ids, targets, mask: ids.map((_, i) => (i < 2 ? 0 : 1)) };
}

describe('DoRA (lora --dora)', () => {
  // First in the file, so that nothing pooled by other tests sits on the ledger.
  for (const [label, cfgIn, precision] of [
    ['lora', { rank: 8, targets: 'all-linear' }, 'f32'],
    ['dora', { rank: 8, targets: 'all-linear', dora: true }, 'f32'],
    ['qdora q4', { rank: 8, targets: 'q_proj,v_proj,down_proj', dora: true }, 'q4'],
  ] as const) {
    it(`${label}: estimateMemory is within 5 % of the ledger peak on tiny-kjv (attach + 2 steps)`, async () => {
      const gpu = await testGpu();
      const model = await loadModel(gpu, nodeModelDir(KJV), { precision });
      const cfg = parseConfig(m().schema, cfgIn);
      const trainer = trainerConfig({ lr: 1e-3, steps: 2 });
      const shape = { B: 2, T: 32, precision };
      const est = m().estimateMemory(model.spec, cfg, shape, trainer);
      gpu.ledger.resetPeak();
      const state = await m().attach(model, cfg, { seed: 3, trainer, shape });
      try {
        const r = rng(5);
        const ids = Array.from({ length: 64 }, () => Math.floor(r() * model.spec.vocab));
        const b = { ids, targets: [...ids.slice(1), 0], mask: ids.map(() => 1), B: 2, T: 32 };
        for (let t = 1; t <= 2; t++) await state.step([b], { step: t, lr: 1e-3, trainer });
        const snap = gpu.ledger.snapshot();
        const total = Object.values(est).reduce((a, x) => a + x, 0);
        // The device's uniform rings (grown by earlier tests on this shared device) are not a
        // method's: planRun adds them to every estimate, and tests/methods/memory.test.ts checks that.
        const peak = snap.totalPeak - gpu.ringBytes;
        const rows = Object.keys(est).map((k) => `${k}: est ${est[k as keyof typeof est]} peak ${snap.peak[k as keyof typeof est]}`);
        console.log(`${label}: total est ${total} peak ${peak} without ${gpu.ringBytes} B of rings (${((100 * (total - peak)) / peak).toFixed(2)} %); ${rows.join('; ')}`);
        expect(Math.abs(total - peak)).toBeLessThanOrEqual(0.05 * peak);
        for (const k of ['adapter', 'gradients', 'optimizer', 'activations'] as const) expect(snap.peak[k], k).toBe(est[k]);
      } finally {
        state.dispose();
        model.dispose();
      }
    });
  }

  it('at init (B = 0) the logits are the base model\'s, and m starts at the row norms of W', async () => {
    const gpu = await testGpu();
    const { files, weights } = tinyModel(QWEN2, 41);
    const model = await LlamaModel.load(gpu, files);
    const { ids } = batch(model.spec.vocab, 7, 2);
    const base = await model.logits(ids, 1, 7);
    const cfg = parseConfig(m().schema, { rank: 4, alpha: 8, targets: 'all-linear', dora: true });
    const state = await m().attach(model, cfg, { seed: 2, trainer: trainerConfig(), shape: { B: 1, T: 7, precision: 'f32' } });
    expect(state.tensors().filter((t) => t.name.endsWith(MAG))).toHaveLength(model.spec.layers * 7);
    for (const t of state.tensors().filter((x) => x.name.endsWith(MAG))) {
      const l = model.linears.get(t.name.slice(0, -MAG.length))!;
      const w = weights.get(`${l.name}.weight`)!;
      const want = Float64Array.from({ length: l.out }, (_, o) => Math.hypot(...w.subarray(o * l.in, (o + 1) * l.in)));
      expectClose(await gpu.readF32(t.buf), want, 0, 2e-6, `${t.name} = ‖W_o‖`);
    }
    const got = await model.logits(ids, 1, 7);
    const worst = Math.max(...got.map((x, i) => Math.abs(x - base[i])));
    console.log(`DoRA at init: max |logit − base logit| = ${worst.toExponential(2)}`);
    expectClose(got, base, 1e-6, 1e-6, 'DoRA at init = base');
    state.dispose();
    model.dispose();
  });

  it('GPT-2 (Conv1D, biases) on a q4 base: at init the logits are the base model\'s; trained, export → import gives the same logits', async () => {
    const gpu = await testGpu();
    const load = () => loadModel(gpu, nodeModelDir(GPT2_DIR), { precision: 'q4' });
    const model = await load();
    const { ids } = batch(model.spec.vocab, 7, 2);
    const base = await model.logits(ids, 1, 7);
    const cfg = parseConfig(m().schema, { rank: 2, alpha: 4, targets: 'all-linear', dora: true });
    const opts = { seed: 2, trainer: trainerConfig({ lr: 5e-2 }), shape: { B: 1, T: 7, precision: 'q4' as const } };
    const state = await m().attach(model, cfg, opts);
    expectClose(await model.logits(ids, 1, 7), base, 1e-6, 1e-6, 'QDoRA at init = base');
    const b = { ids, targets: [...ids.slice(1), ids[0]], mask: ids.map(() => 1), B: 1, T: 7 };
    for (let t = 1; t <= 2; t++) await state.step([b], { step: t, lr: 5e-2, trainer: opts.trainer });
    const trained = await model.logits(ids, 1, 7);
    const fresh = await load();
    const imported = await m().importFiles!(fresh, await state.exportFiles(), opts);
    expectClose(await fresh.logits(ids, 1, 7), trained, 1e-6, 1e-6, 'imported');
    await expect(imported.merge()).rejects.toThrow(/DoRA needs an f32 base/);
    imported.dispose();
    fresh.dispose();
    state.dispose();
    model.dispose();
  });

  for (const [name, config, precision, rslora] of [
    ['llama f32', LLAMA, 'f32', false],
    ['qwen2 (q/k/v bias) f32 rsLoRA', QWEN2, 'f32', true],
    ['llama q4 base (QDoRA)', LLAMA, 'q4', false],
  ] as const) {
    it(`${name}: loss = f64 reference of (m/n)(W + sBA); dA, dB, dm = finite differences with n held fixed`, async () => {
      const gpu = await testGpu();
      const { spec, files, weights } = tinyModel(config, 21);
      const model = await LlamaModel.load(gpu, files, { precision, quantizeEmbeddings: false }); // the reference dequantizes the linear layers only
      const r = 3;
      const cfg = parseConfig(m().schema, { rank: r, alpha: 5, targets: 'q_proj,k_proj,down_proj', rslora, dora: true });
      const state = await m().attach(model, cfg, { seed: 1, trainer: trainerConfig(), shape: { B: 1, T: 6, precision } });
      const s = rslora ? 5 / Math.sqrt(r) : 5 / r;
      const ref = refBase(weights, model, precision);
      if (precision !== 'f32') {
        // m starts at the row norms of the dequantized weight the forward multiplies by.
        for (const t of state.tensors().filter((x) => x.name.endsWith(MAG))) {
          const l = model.linears.get(t.name.slice(0, -MAG.length))!;
          expect(l.w.kind).toBe('quant');
          const w = ref.get(`${l.name}.weight`)!;
          const want = Float64Array.from({ length: l.out }, (_, o) => Math.sqrt(Array.from({ length: l.in }, (_, i) => w[o * l.in + i] ** 2).reduce((a, x) => a + x, 0)));
          expectClose(await gpu.readF32(t.buf), want, 0, 2e-6, `${t.name} = ‖dequant(W)_o‖`);
        }
      }
      const ab = await perturb(gpu, state, 50);
      const { ids, targets, mask } = batch(spec.vocab, 6, 4);
      const ga = gpu.arena.child();
      const names = new Set(state.tensors().map((t) => t.name));
      const { loss, grads } = await model.lossAndGrads(ids, targets, mask, 1, 6, ga, (n) => names.has(n));
      expect([...grads.keys()].sort()).toEqual([...names].sort()); // A, B, m only: never the base
      const live = doraWeights(ref, ab, r, s);
      const want = llamaLossRef(spec, live.w, ids, targets, mask, 1, 6);
      console.log(`${name}: loss ${loss} reference ${want} |Δ| ${Math.abs(loss - want).toExponential(2)}`);
      expect(Math.abs(loss - want)).toBeLessThan(2e-6 * Math.max(1, loss));
      // The detached norm: the reference's n stays at its value for the current A, B.
      await expectGradsMatchFiniteDifferences(gpu, grads, ab, () => llamaLossRef(spec, doraWeights(ref, ab, r, s, live.norms).w, ids, targets, mask, 1, 6), (n) => [0, Math.floor(n / 3), n - 1]);
      // And it is not the gradient of the live-norm reference (what detaching changes).
      const bName = [...names].find((x) => x.endsWith('lora_B.weight'))!;
      const bv = ab.get(bName)!;
      const h = 1e-5;
      bv[0] += h;
      const lp = llamaLossRef(spec, doraWeights(ref, ab, r, s).w, ids, targets, mask, 1, 6);
      bv[0] -= 2 * h;
      const lm = llamaLossRef(spec, doraWeights(ref, ab, r, s).w, ids, targets, mask, 1, 6);
      bv[0] += h;
      const gLive = (lp - lm) / (2 * h);
      const gGpu = (await gpu.readF32(grads.get(bName)!))[0];
      console.log(`${name}: ${bName}[0] gpu ${gGpu}, FD with the norm live ${gLive}`);
      if (precision !== 'f32') await expect(state.merge()).rejects.toThrow(ConfigError);
      ga.dispose();
      state.dispose();
      model.dispose();
    });
  }

  it('exports PEFT use_dora with lora_magnitude_vector [out]; imports it (and the .weight spelling) to the same logits; merge matches', async () => {
    const gpu = await testGpu();
    const { files } = tinyModel(QWEN2, 9);
    const model = await LlamaModel.load(gpu, files);
    const cfg = parseConfig(m().schema, { rank: 2, alpha: 4, targets: 'v_proj,o_proj', dora: true });
    const opts = { seed: 4, trainer: trainerConfig({ lr: 5e-2 }), shape: { B: 1, T: 7, precision: 'f32' as const } };
    const state = await m().attach(model, cfg, opts);
    await perturb(gpu, state, 70);
    const { ids } = batch(model.spec.vocab, 7, 3);
    const trained = await model.logits(ids, 1, 7);
    const out = await state.exportFiles();
    const conf = JSON.parse(new TextDecoder().decode(out.find((f) => f.name === 'adapter_config.json')!.bytes));
    expect(conf).toMatchObject({ peft_type: 'LORA', use_dora: true, r: 2, lora_alpha: 4, fan_in_fan_out: false });
    const st = await SafetensorsFile.open(bytesSource(out.find((f) => f.name === 'adapter_model.safetensors')!.bytes, 'a'));
    const key = 'base_model.model.model.layers.1.self_attn.v_proj.lora_magnitude_vector';
    expect(st.tensors.has(key)).toBe(true);
    expect(st.info(key).shape).toEqual([model.spec.kvHeads * model.spec.headDim]);
    expect([...st.tensors.keys()].filter((k) => k.endsWith('lora_magnitude_vector'))).toHaveLength(2 * model.spec.layers);
    // Another writer's spelling: `.lora_magnitude_vector.weight`.
    const renamed = [];
    for (const k of st.tensors.keys()) renamed.push({ name: k.endsWith('vector') ? `${k}.weight` : k, dtype: 'F32' as const, shape: st.info(k).shape, data: await st.readF32(k) });
    for (const files2 of [out, [out.find((f) => f.name === 'adapter_config.json')!, { name: 'adapter_model.safetensors', bytes: writeSafetensors(renamed) }]]) {
      const fresh = await LlamaModel.load(gpu, files);
      const imported = await m().importFiles!(fresh, files2, opts);
      expect(imported.trainableParams).toBe(state.trainableParams);
      expectClose(await fresh.logits(ids, 1, 7), trained, 1e-6, 1e-6, 'imported');
      await imported.merge();
      expect([...fresh.linears.values()].every((l) => !l.adapter)).toBe(true);
      expectClose(await fresh.logits(ids, 1, 7), trained, 2e-5, 2e-5, 'merged');
      imported.dispose();
      fresh.dispose();
    }
    // The ZO-LoRA import (mezo) still refuses a DoRA adapter.
    const zo = getMethod('mezo');
    const fresh = await LlamaModel.load(gpu, files);
    await expect(zo.importFiles!(fresh, out, opts)).rejects.toThrow(/DoRA/);
    fresh.dispose();
    state.dispose();
    model.dispose();
  });

  it('loss falls on a memorisation batch on a q4 base (QDoRA)', async () => {
    const gpu = await testGpu();
    const { files } = tinyModel(LLAMA, 5);
    const model = await LlamaModel.load(gpu, files, { precision: 'q4' });
    const cfg = parseConfig(m().schema, { rank: 4, alpha: 8, targets: 'all-linear', dora: true });
    const trainer = trainerConfig({ lr: 5e-2, steps: 25 });
    const state = await m().attach(model, cfg, { seed: 7, trainer, shape: { B: 2, T: 8, precision: 'q4' } });
    const r = rng(3);
    const ids = Array.from({ length: 16 }, () => Math.floor(r() * model.spec.vocab));
    const b = { ids, targets: [...ids.slice(1), ids[0]], mask: ids.map(() => 1), B: 2, T: 8 };
    const first = (await model.loss(b.ids, b.targets, b.mask, 2, 8)).loss;
    for (let t = 1; t <= 25; t++) await state.step([b], { step: t, lr: trainer.lr, trainer });
    const last = (await model.loss(b.ids, b.targets, b.mask, 2, 8)).loss;
    console.log(`QDoRA memorisation: ${first} → ${last}`);
    expect(last).toBeLessThan(first * 0.6);
    state.dispose();
    model.dispose();
  });
});
