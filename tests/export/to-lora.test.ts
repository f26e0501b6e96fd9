// Any adapter → LoRA (src/engine/export/to-lora.ts) and the randomized SVD under it
// (src/engine/export/svd.ts): against matrices of known spectrum, sparse against dense, and
// end to end: SHiRA and full fine-tunes converted at full rank import with the lora method and
// give the trained model's logits; truncated ranks report the error their factors really have.

import { describe, expect, it } from 'vitest';
import '../../src/engine/methods/all.ts';
import { readPeftLora, type LoraModule } from '../../src/engine/export/squeeze.ts';
import { denseOperator, jacobiSvd, matmul, qr, randomizedSvd, sparseOperator, transpose } from '../../src/engine/export/svd.ts';
import { fullToLora, shiraToLora } from '../../src/engine/export/to-lora.ts';
import { bytesSource } from '../../src/engine/io/bytes.ts';
import { Checkpoint } from '../../src/engine/io/model-files.ts';
import { nodeModelDir } from '../../src/engine/io/node-dir.ts';
import { SafetensorsFile, writeSafetensors } from '../../src/engine/io/safetensors.ts';
import { getMethod } from '../../src/engine/methods/registry.ts';
import { ConfigError, parseConfig } from '../../src/engine/config/schema.ts';
import type { Batch } from '../../src/engine/methods/types.ts';
import { parseModelConfig } from '../../src/engine/model/config.ts';
import { LlamaModel } from '../../src/engine/model/llama.ts';
import { loadModel } from '../../src/engine/model/load.ts';
import { trainerConfig } from '../../src/engine/config/trainer.ts';
import { expectClose, randn, rng, testGpu } from '../helpers/gpu.ts';
import { LLAMA, memoryModel, tinyModel } from '../helpers/tiny-model.ts';
import { readFileSync } from 'node:fs';

const GPT2_DIR = new URL('../fixtures/models/gpt2', import.meta.url).pathname;

const frob = (x: ArrayLike<number>) => Math.sqrt(Array.from(x).reduce((a, v) => a + v * v, 0));

/** s·B·A (out, in) of a module. */
function dense(m: LoraModule, s: number): Float64Array {
  return matmul(Float64Array.from(m.b, (x) => x * s), Float64Array.from(m.a), m.out, m.r, m.in);
}

/** A (m, n) matrix with singular values `sig` and random singular vectors. */
function withSpectrum(m: number, n: number, sig: number[], seed: number): Float64Array {
  const k = sig.length;
  const u = qr(Float64Array.from(randn(m * k, seed)), m, k).q;
  const v = qr(Float64Array.from(randn(n * k, seed + 1)), n, k).q;
  const us = Float64Array.from(u, (x, i) => x * sig[i % k]);
  return matmul(us, transpose(v, n, k), m, k, n);
}

function batch(vocab: number): Batch {
  const r = rng(3);
  const ids = Array.from({ length: 16 }, () => Math.floor(r() * vocab));
  return { ids, targets: [...ids.slice(1), ids[0]], mask: ids.map(() => 1), B: 2, T: 8 };
}

const opts = (lr = 3e-2) => ({ seed: 5, trainer: trainerConfig({ lr }), shape: { B: 2, T: 8, precision: 'f32' as const } });

describe('randomized SVD', () => {
  it('recovers a known spectrum exactly when the sketch spans the matrix, both orientations', () => {
    for (const [m, n] of [[30, 20], [20, 30]]) {
      const sig = Array.from({ length: 12 }, (_, i) => 3 * 0.6 ** i);
      const a = withSpectrum(m, n, sig, 7);
      const svd = randomizedSvd(denseOperator(a, m, n), 12, { oversample: 0, seed: 1 });
      for (let i = 0; i < 12; i++) expect(svd.s[i]).toBeCloseTo(sig[i], 10);
      // U·diag(s)·Vᵀ = A, U and V orthonormal.
      const us = Float64Array.from(svd.u, (x, i) => x * svd.s[i % 12]);
      const back = matmul(us, transpose(svd.v, n, 12), m, 12, n);
      expect(frob(back.map((x, i) => x - a[i])) / frob(a)).toBeLessThan(1e-12);
      const utu = matmul(transpose(svd.u, m, 12), svd.u, 12, m, 12);
      for (let i = 0; i < 12; i++) for (let j = 0; j < 12; j++) expect(utu[i * 12 + j]).toBeCloseTo(i === j ? 1 : 0, 12);
    }
  });

  it('a truncated sketch is within 0.1 % of the optimal rank-k error (Eckart–Young) and reports the error it has', () => {
    const [m, n, k] = [80, 50, 6];
    const sig = Array.from({ length: 50 }, (_, i) => 0.8 ** i);
    const a = withSpectrum(m, n, sig, 11);
    const total = sig.reduce((x, y) => x + y * y, 0);
    const optimal = Math.sqrt(sig.slice(k).reduce((x, y) => x + y * y, 0) / total);
    const svd = randomizedSvd(denseOperator(a, m, n), k, { oversample: 6, powerIters: 2, seed: 3 });
    const us = Float64Array.from(svd.u, (x, i) => x * svd.s[i % k]);
    const approx = matmul(us, transpose(svd.v, n, k), m, k, n);
    const err = frob(approx.map((x, i) => x - a[i])) / Math.sqrt(total);
    expect(err).toBeGreaterThanOrEqual(optimal * (1 - 1e-9));
    expect(err).toBeLessThan(optimal * 1.001);
    const kept = Array.from(svd.s).reduce((x, y) => x + y * y, 0);
    expect(Math.sqrt(1 - kept / total)).toBeCloseTo(err, 9); // the projection identity
    // Same seed, same answer; without power iterations it is worse but still an upper bound.
    expect(randomizedSvd(denseOperator(a, m, n), k, { oversample: 6, powerIters: 2, seed: 3 }).s).toEqual(svd.s);
    const rough = randomizedSvd(denseOperator(a, m, n), k, { oversample: 6, powerIters: 0, seed: 3 });
    expect(Math.sqrt(1 - Array.from(rough.s).reduce((x, y) => x + y * y, 0) / total)).toBeGreaterThanOrEqual(err * (1 - 1e-9));
  });

  it('a sparse operator gives what its dense matrix gives', () => {
    const [m, n, K] = [24, 40, 90];
    const r = rng(9);
    const rows = Array.from({ length: K }, () => Math.floor(r() * m));
    const cols = Array.from({ length: K }, () => Math.floor(r() * n));
    const vals = randn(K, 10);
    const d = new Float64Array(m * n);
    for (let i = 0; i < K; i++) d[rows[i] * n + cols[i]] += vals[i];
    const sp = sparseOperator(rows, cols, vals, m, n);
    expect(sp.frob2).toBeCloseTo(frob(d) ** 2, 10);
    const x = Float64Array.from(randn(n * 3, 1));
    const y = Float64Array.from(randn(m * 3, 2));
    const dd = denseOperator(d, m, n);
    expectClose(sp.mul(x, 3), dd.mul(x, 3), 1e-12, 1e-12, 'A·X');
    expectClose(sp.mulT(y, 3), dd.mulT(y, 3), 1e-12, 1e-12, 'Aᵀ·Y');
    const exact = jacobiSvd(transpose(d, m, n), n, m).s; // σ of dᵀ (40, 24)
    const s = randomizedSvd(sp, 24, { seed: 4 }).s;
    for (let i = 0; i < 24; i++) expect(s[i]).toBeCloseTo(exact[i], 9);
  });
});

describe('SHiRA → LoRA', () => {
  it('at full rank the LoRA gives the SHiRA logits; at rank 2 the reported energy is the exact one of the factors written', async () => {
    const gpu = await testGpu();
    const { spec, files: base } = tinyModel(LLAMA, 9);
    const shira = getMethod('shira');
    const lora = getMethod('lora');
    const model = await LlamaModel.load(gpu, base);
    const b = batch(spec.vocab);
    const state = await shira.attach(model, parseConfig(shira.schema, { fraction: 0.3, targets: 'k_proj,v_proj' }), opts());
    for (let t = 1; t <= 3; t++) await state.step([b], { step: t, lr: 3e-2, trainer: opts().trainer });
    const want = await model.logits(b.ids, 2, 8);
    const files = await state.exportFiles();
    state.dispose();
    model.dispose();
    const fresh = await LlamaModel.load(gpu, base);
    const full = await shiraToLora(files, spec, { rank: 8 }); // k_proj / v_proj are 8×16
    expect(full.report.map((m) => m.module)).toEqual(['model.layers.0.self_attn.k_proj', 'model.layers.0.self_attn.v_proj', 'model.layers.1.self_attn.k_proj', 'model.layers.1.self_attn.v_proj'].map((p) => `base_model.model.${p}`));
    for (const m of full.report) expect(m.energy, m.module).toBeGreaterThan(1 - 1e-10);
    const cfg = JSON.parse(new TextDecoder().decode(full.files[1].bytes)) as Record<string, unknown>;
    expect(cfg).toMatchObject({ peft_type: 'LORA', r: 8, lora_alpha: 8, target_modules: ['k_proj', 'v_proj'], fan_in_fan_out: false });
    const imported = await lora.importFiles!(fresh, full.files, opts());
    expectClose(await fresh.logits(b.ids, 2, 8), want, 1e-5, 1e-5, 'SHiRA → LoRA r=8');
    imported.dispose();
    fresh.dispose();

    // Rank 2: the error reported is ‖ΔW − s·B·A‖ / ‖ΔW‖ of the written factors, and near
    // the optimum of the exact SVD of the dense ΔW (8×16 with ~38 entries).
    const st = await SafetensorsFile.open(bytesSource(files[0].bytes, 'a'));
    const low = await shiraToLora(files, spec, { rank: 2, alpha: 5, rslora: true, powerIters: 3 });
    const mods = (await readPeftLora(low.files)).modules;
    for (const [i, rep] of low.report.entries()) {
      const ind = await st.readI32(`${rep.module}.shira_indices`);
      const val = await st.readF32(`${rep.module}.shira_weight`);
      const d = new Float64Array(8 * 16);
      for (let j = 0; j < val.length; j++) d[ind[j] * 16 + ind[val.length + j]] = val[j];
      const approx = dense(mods[i], 5 / Math.sqrt(2));
      const err = frob(approx.map((x, j) => x - d[j])) / frob(d);
      expect(rep.relError, rep.module).toBeCloseTo(err, 6);
      const sig = jacobiSvd(transpose(d, 8, 16), 16, 8).s;
      const opt = Math.sqrt(Array.from(sig).slice(2).reduce((x, y) => x + y * y, 0)) / frob(d);
      expect(err).toBeLessThan(opt * 1.0001 + 1e-9);
      expect(rep.singularValues[0]).toBeCloseTo(sig[0], 6);
    }
  });

  it('refuses a LoRA config, a rank too large, an unknown target', async () => {
    const spec = parseModelConfig(LLAMA);
    const cfg = { name: 'adapter_config.json', bytes: new TextEncoder().encode('{"peft_type":"LORA"}') };
    await expect(shiraToLora([cfg], spec, { rank: 2 })).rejects.toThrow(/expected "SHIRA"/);
    const p = 'base_model.model.model.layers.0.self_attn.q_proj';
    const st = writeSafetensors([
      { name: `${p}.shira_indices`, dtype: 'I32', shape: [2, 2], data: new Int32Array([0, 3, 1, 2]) },
      { name: `${p}.shira_weight`, dtype: 'F32', shape: [2], data: new Float32Array([0.5, -1]) },
    ]);
    const files = [{ name: 'adapter_model.safetensors', bytes: st }, { name: 'adapter_config.json', bytes: new TextEncoder().encode('{"peft_type":"SHIRA"}') }];
    await expect(shiraToLora(files, spec, { rank: 17 })).rejects.toThrow(ConfigError);
    await expect(shiraToLora(files, spec, { rank: 2, targets: ['nope'] })).rejects.toThrow(/no module nope/);
    const ok = await shiraToLora(files, spec, { rank: 2 });
    expect(ok.report).toHaveLength(2); // q_proj of both layers; layer 1 unchanged → zeros
    expect(ok.report[0].energy).toBeCloseTo(1, 12);
    expect(ok.report[1]).toMatchObject({ norm: 0, energy: 1 });
  });
});

describe('full fine-tune → LoRA', () => {
  it('Llama: the full method on k_proj, v_proj converts at full rank to the trained logits; other tensors are listed as dropped', async () => {
    const gpu = await testGpu();
    const { spec, files: base } = tinyModel(LLAMA, 9);
    const full = getMethod('full');
    const lora = getMethod('lora');
    const model = await LlamaModel.load(gpu, base);
    const b = batch(spec.vocab);
    const state = await full.attach(model, parseConfig(full.schema, { targets: 'k_proj,v_proj' }), opts());
    for (let t = 1; t <= 3; t++) await state.step([b], { step: t, lr: 3e-2, trainer: opts().trainer });
    const want = await model.logits(b.ids, 2, 8);
    const files = await state.exportFiles();
    state.dispose();
    model.dispose();
    const ckpt = await Checkpoint.open(base);
    const res = await fullToLora(files, ckpt, spec, { rank: 8, baseModel: 'tiny' });
    expect(res.dropped).toEqual([]);
    expect(res.report).toHaveLength(4);
    for (const m of res.report) expect(m.energy).toBeGreaterThan(1 - 1e-10);
    const fresh = await LlamaModel.load(gpu, base);
    const imported = await lora.importFiles!(fresh, res.files, opts());
    expectClose(await fresh.logits(b.ids, 2, 8), want, 1e-5, 1e-5, 'full → LoRA r=8');
    imported.dispose();
    fresh.dispose();
    // Everything trained: norms and embeddings cannot be carried and are reported.
    const m2 = await LlamaModel.load(gpu, base);
    const s2 = await full.attach(m2, parseConfig(full.schema, {}), opts());
    await s2.step([b], { step: 1, lr: 3e-2, trainer: opts().trainer });
    const all = await fullToLora(await s2.exportFiles(), ckpt, spec, { rank: 4 });
    s2.dispose();
    m2.dispose();
    const names = all.dropped.map((d) => d.name);
    expect(names).toContain('model.embed_tokens.weight');
    expect(names).toContain('model.norm.weight');
    for (const d of all.dropped) expect(d.relChange).toBeGreaterThan(0);
    expect(new Set(all.report.map((r) => r.module.split('.').pop()))).toEqual(new Set(['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj']));
    for (const r of all.report) expect(r.energy).toBeLessThanOrEqual(1);
  });

  it('GPT-2: Conv1D (in, out) deltas read in [out, in] space; full rank gives the fine-tuned logits, rank 3 the error reported', async () => {
    const gpu = await testGpu();
    const spec = parseModelConfig(readFileSync(`${GPT2_DIR}/config.json`, 'utf8'));
    const baseFiles = nodeModelDir(GPT2_DIR);
    const ckpt = await Checkpoint.open(baseFiles);
    // A fine-tuned checkpoint: c_attn weights of both layers moved by a dense random delta.
    const tensors = [];
    const deltas = new Map<string, Float32Array>();
    for (const name of ckpt.names) {
      const w = await ckpt.readF32(name);
      if (name.endsWith('attn.c_attn.weight')) {
        const d = randn(w.length, name.length, -0.05, 0.05);
        deltas.set(name, d);
        for (let i = 0; i < w.length; i++) w[i] += d[i];
      }
      tensors.push({ name, dtype: 'F32' as const, shape: ckpt.info(name).shape, data: w });
    }
    const tuned = writeSafetensors(tensors);
    const tunedModel = await loadModel(gpu, memoryModel({ 'config.json': readFileSync(`${GPT2_DIR}/config.json`), 'model.safetensors': tuned }));
    const ids = batch(spec.vocab).ids;
    const want = await tunedModel.logits(ids, 2, 8);
    tunedModel.dispose();
    const res = await fullToLora([{ name: 'model.safetensors', bytes: tuned }], ckpt, spec, { rank: 24 }); // c_attn is 72×24
    expect(res.report.map((r) => r.module)).toEqual(['base_model.model.transformer.h.0.attn.c_attn', 'base_model.model.transformer.h.1.attn.c_attn']);
    const cfg = JSON.parse(new TextDecoder().decode(res.files[1].bytes)) as Record<string, unknown>;
    expect(cfg).toMatchObject({ fan_in_fan_out: true, target_modules: ['c_attn'], r: 24 });
    const fresh = await loadModel(gpu, baseFiles);
    const lora = getMethod('lora');
    const imported = await lora.importFiles!(fresh, res.files, opts());
    expectClose(await fresh.logits(ids, 2, 8), want, 1e-5, 1e-5, 'GPT-2 full → LoRA r=24');
    imported.dispose();
    fresh.dispose();
    // Rank 3: B·A is [out, in]; the Conv1D delta (in, out) is its transpose.
    const low = await fullToLora([{ name: 'model.safetensors', bytes: tuned }], ckpt, spec, { rank: 3 });
    const mods = (await readPeftLora(low.files)).modules;
    for (const [i, rep] of low.report.entries()) {
      const d = deltas.get(`${rep.module.slice('base_model.model.'.length)}.weight`);
      if (!d) throw new Error(rep.module);
      const approx = transpose(dense(mods[i], 1), 72, 24); // (24, 72) = Conv1D order
      const err = frob(approx.map((x, j) => x - d[j])) / frob(d);
      expect(rep.relError).toBeCloseTo(err, 6);
      expect(rep.energy).toBeCloseTo(1 - err * err, 6);
    }
  });
});
