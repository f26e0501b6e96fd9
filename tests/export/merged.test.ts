// The merged model is just a model: loadModel reads the folder writeMergedModel wrote, and
// its logits match the base with the run's adapter on it (LoRA, DoRA, GPT-2 Conv1D, a q4
// base, SHiRA, full fine-tuning), in the base's own names and dtypes.

import { describe, expect, it } from 'vitest';
import '../../src/engine/methods/all.ts';
import { memoryFolder, writeMergedModel } from '../../src/engine/export/merged.ts';
import { f64ToBf16Bits } from '../../src/engine/export/dtype.ts';
import { bytesSource } from '../../src/engine/io/bytes.ts';
import type { ModelFiles } from '../../src/engine/io/model-files.ts';
import { nodeModelDir } from '../../src/engine/io/node-dir.ts';
import { SafetensorsFile, writeSafetensors } from '../../src/engine/io/safetensors.ts';
import { getMethod } from '../../src/engine/methods/registry.ts';
import { parseConfig } from '../../src/engine/config/schema.ts';
import type { Batch, ExportFile } from '../../src/engine/methods/types.ts';
import type { BasePrecision } from '../../src/engine/model/decoder.ts';
import { loadModel } from '../../src/engine/model/load.ts';
import { dequantize, quantize } from '../../src/engine/quant/block.ts';
import { trainerConfig } from '../../src/engine/config/trainer.ts';
import { expectClose, rng, testGpu } from '../helpers/gpu.ts';
import { LLAMA, memoryModel, QWEN2, tinyModel } from '../helpers/tiny-model.ts';

const GPT2_DIR = new URL('../fixtures/models/gpt2', import.meta.url).pathname;

function batchFor(vocab: number, B = 2, T = 8): Batch {
  const r = rng(11);
  const ids = Array.from({ length: B * T }, () => Math.floor(r() * vocab));
  return { ids, targets: [...ids.slice(1), ids[0]], mask: ids.map(() => 1), B, T };
}

/** Train `method` a few steps on `base`, export, merge, load the merged folder in f32 and
 *  compare its logits with the trained model's. */
async function roundTrip(base: ModelFiles, method: string, cfg: Record<string, unknown>, precision: BasePrecision = 'f32', tol = 2e-4) {
  const gpu = await testGpu();
  const model = await loadModel(gpu, base, { precision });
  const m = getMethod(method);
  const trainer = trainerConfig({ ...m.trainerDefaults, lr: 5e-2, steps: 3 });
  const opts = { seed: 3, trainer, shape: { B: 2, T: 8, precision } };
  const state = await m.attach(model, parseConfig(m.schema, cfg), opts);
  const batch = batchFor(model.spec.vocab);
  for (let t = 1; t <= 3; t++) await state.step([batch], { step: t, lr: trainer.lr, trainer });
  const trained = await model.logits(batch.ids, 2, 8);
  const files = await state.exportFiles();
  state.dispose();
  model.dispose();
  const out = memoryFolder();
  const summary = await writeMergedModel(base, files, out, { precision });
  const merged = await loadModel(gpu, memoryModel(Object.fromEntries(out.files)));
  const logits = await merged.logits(batch.ids, 2, 8);
  merged.dispose();
  expectClose(logits, trained, tol, tol, `${method} merged`);
  // Not vacuous: the base alone is far from the trained logits.
  const plain = await loadModel(gpu, base, { precision });
  const before = await plain.logits(batch.ids, 2, 8);
  plain.dispose();
  expect(Math.max(...before.map((x, i) => Math.abs(x - trained[i])))).toBeGreaterThan(20 * tol);
  return { summary, files, out };
}

/** A tiny Llama stored in BF16 (the f32 weights rounded to nearest even). */
function tinyBf16(config: Record<string, unknown>, seed: number) {
  const t = tinyModel(config, seed);
  const tensors = [...t.shapes].map(([name, shape]) => ({ name, dtype: 'BF16' as const, shape, data: Uint16Array.from(t.weights.get(name)!, (x) => f64ToBf16Bits(x)) }));
  const enc = (s: string) => new TextEncoder().encode(s);
  return { files: memoryModel({ 'config.json': enc(JSON.stringify(config)), 'model.safetensors': writeSafetensors(tensors), 'tokenizer_config.json': enc('{}') }), t };
}

describe('merged model', () => {
  it('LoRA on Llama: loadModel reads the folder, logits match base + adapter; untouched tensors are byte-identical', async () => {
    const { files } = tinyModel(LLAMA, 5);
    const { summary, out } = await roundTrip(files, 'lora', { rank: 4, alpha: 8, targets: 'all-linear' });
    expect(summary.kind).toBe('lora');
    expect(summary.merged.length).toBe(2 * 7);
    expect(summary.dequantized).toEqual([]);
    expect(summary.files).toEqual(['model.safetensors', 'config.json']);
    const src = await SafetensorsFile.open(await files.open('model.safetensors'));
    const dst = await SafetensorsFile.open(bytesSource(out.files.get('model.safetensors')!));
    expect(dst.names.sort()).toEqual(src.names.sort());
    for (const n of src.names) {
      expect(dst.info(n).dtype).toBe(src.info(n).dtype);
      expect(dst.info(n).shape).toEqual(src.info(n).shape);
      if (!summary.merged.includes(n)) expect(await dst.readRaw(n)).toEqual(await src.readRaw(n));
    }
    expect(out.files.get('config.json')).toEqual((await (await files.open('config.json')).read(0, (await files.open('config.json')).size)));
  });

  it('DoRA and rsLoRA on Qwen2 (biases, untied head)', async () => {
    const { files } = tinyModel(QWEN2, 9);
    const d = await roundTrip(files, 'lora', { rank: 2, alpha: 4, targets: 'all-linear', dora: true });
    expect(d.summary.kind).toBe('dora');
    await roundTrip(files, 'lora', { rank: 2, alpha: 4, targets: 'q_proj,down_proj', rslora: true });
  });

  it('GPT-2 Conv1D (fan_in_fan_out): ΔW goes in the (in, out) order; tokenizer files are copied', async () => {
    const { summary, out } = await roundTrip(nodeModelDir(GPT2_DIR), 'lora', { rank: 4, alpha: 8, targets: 'all-linear' });
    expect(summary.files).toEqual(expect.arrayContaining(['model.safetensors', 'config.json', 'tokenizer.json', 'tokenizer_config.json']));
    expect(out.files.get('tokenizer.json')?.length).toBeGreaterThan(0);
  });

  it('a q4 base (QLoRA, QDoRA): merged into the dequantized weights, so the f32 merged model computes what the run did', async () => {
    const { files, weights, spec } = tinyModel(LLAMA, 13);
    const { summary, out } = await roundTrip(files, 'lora', { rank: 4, alpha: 8, targets: 'q_proj,v_proj' }, 'q4');
    // Every weight the load path quantizes went through quantize → dequantize, adapted or not.
    expect(summary.dequantized.sort()).toEqual([...weights.keys()].filter((n) => /proj\.weight$|embed_tokens/.test(n)).sort());
    const dst = await SafetensorsFile.open(bytesSource(out.files.get('model.safetensors')!));
    const k = 'model.layers.1.self_attn.k_proj.weight';
    expect([...(await dst.readF32(k))]).toEqual([...dequantize(quantize(weights.get(k)!, spec.kvHeads * spec.headDim, spec.hidden, 'q4'))]);
    // QDoRA: the row norms are those of the dequantized weight too.
    expect((await roundTrip(files, 'lora', { rank: 2, alpha: 4, targets: 'all-linear', dora: true }, 'q4')).summary.kind).toBe('dora');
    // Against the original weights (dequantize: false) the merged model differs from the run.
    const gpu = await testGpu();
    const other = memoryFolder();
    const m = getMethod('lora');
    const model = await loadModel(gpu, files, { precision: 'q4' });
    const state = await m.attach(model, parseConfig(m.schema, { rank: 4, targets: 'q_proj' }), { seed: 1, trainer: trainerConfig(), shape: { B: 2, T: 8, precision: 'q4' } });
    const adapter = await state.exportFiles();
    state.dispose();
    model.dispose();
    const s2 = await writeMergedModel(files, adapter, other, { precision: 'q4', dequantize: false });
    expect(s2.dequantized).toEqual([]);
    expect(await (await SafetensorsFile.open(bytesSource(other.files.get('model.safetensors')!))).readRaw(k)).toEqual(await (await SafetensorsFile.open(await files.open('model.safetensors'))).readRaw(k));
  });

  it('SHiRA and full fine-tuning merge too', async () => {
    const { files } = tinyModel(LLAMA, 17);
    expect((await roundTrip(files, 'shira', { fraction: 0.2 })).summary.kind).toBe('shira');
    const full = await roundTrip(files, 'full', {});
    expect(full.summary.kind).toBe('weights');
    expect((await roundTrip(nodeModelDir(GPT2_DIR), 'shira', { fraction: 0.1 })).summary.kind).toBe('shira');
  });

  it('keeps a BF16 checkpoint BF16: merged values are W + ΔW rounded once to nearest even', async () => {
    const { files, t } = tinyBf16(LLAMA, 21);
    const gpu = await testGpu();
    const model = await loadModel(gpu, files);
    const m = getMethod('lora');
    const state = await m.attach(model, parseConfig(m.schema, { rank: 2, alpha: 4, targets: 'up_proj' }), { seed: 2, trainer: trainerConfig(), shape: { B: 1, T: 4, precision: 'f32' } });
    for (const p of state.tensors()) if (p.name.endsWith('lora_B.weight')) gpu.write(p.buf, Float32Array.from({ length: p.n }, (_, i) => ((i % 7) - 3) * 0.01));
    const adapter = await state.exportFiles();
    const batch = batchFor(37, 1, 4);
    const withAdapter = await model.logits(batch.ids, 1, 4);
    state.dispose();
    model.dispose();
    const out = memoryFolder();
    const summary = await writeMergedModel(files, adapter, out);
    expect(summary.files).toEqual(['model.safetensors', 'config.json', 'tokenizer_config.json']);
    const dst = await SafetensorsFile.open(bytesSource(out.files.get('model.safetensors')!));
    const src = await SafetensorsFile.open(await files.open('model.safetensors'));
    for (const n of src.names) expect(dst.info(n).dtype).toBe('BF16');
    // Recompute one merged weight here in f64 and round it.
    const st = await SafetensorsFile.open(bytesSource(adapter.find((f) => f.name === 'adapter_model.safetensors')!.bytes));
    const p = 'base_model.model.model.layers.0.mlp.up_proj';
    const A = await st.readF32(`${p}.lora_A.weight`);
    const B = await st.readF32(`${p}.lora_B.weight`);
    const W = await src.readF32('model.layers.0.mlp.up_proj.weight');
    const [out_, in_] = src.info('model.layers.0.mlp.up_proj.weight').shape;
    const raw = await dst.readRaw('model.layers.0.mlp.up_proj.weight');
    const got = new Uint16Array(raw.slice().buffer);
    let changed = 0;
    for (let o = 0; o < out_; o++) for (let i = 0; i < in_; i++) {
      let d = 0;
      for (let k = 0; k < 2; k++) d += B[o * 2 + k] * A[k * in_ + i];
      const want = f64ToBf16Bits(W[o * in_ + i] + 2 * d);
      expect(got[o * in_ + i]).toBe(want);
      if (want !== f64ToBf16Bits(W[o * in_ + i])) changed++;
    }
    expect(changed).toBeGreaterThan(out_ * in_ / 4);
    const merged = await loadModel(gpu, memoryModel(Object.fromEntries(out.files)));
    expectClose(await merged.logits(batch.ids, 1, 4), withAdapter, 3e-2, 3e-2, 'bf16 merged'); // bf16 rounding of W'
    merged.dispose();
    expect(t.spec.hidden).toBe(16);
  });

  it('a sharded base (model.safetensors.index.json) merges into one model.safetensors, the same bytes as from one file', async () => {
    const { files, weights, shapes } = tinyModel(LLAMA, 23);
    const names = [...shapes.keys()];
    const shard = (part: string[]) => writeSafetensors(part.map((name) => ({ name, dtype: 'F32' as const, shape: shapes.get(name)!, data: weights.get(name)! })));
    const [a, b] = [names.slice(0, 5), names.slice(5)];
    const index = { metadata: {}, weight_map: Object.fromEntries([...a.map((n) => [n, 'model-00001-of-00002.safetensors']), ...b.map((n) => [n, 'model-00002-of-00002.safetensors'])]) };
    const enc = (x: string) => new TextEncoder().encode(x);
    const sharded = memoryModel({
      'config.json': enc(JSON.stringify(LLAMA)), 'model.safetensors.index.json': enc(JSON.stringify(index)),
      'model-00001-of-00002.safetensors': shard(a), 'model-00002-of-00002.safetensors': shard(b),
    });
    const p = 'base_model.model.model.layers.1.self_attn.o_proj';
    const adapter: ExportFile[] = [
      { name: 'adapter_config.json', bytes: enc(JSON.stringify({ peft_type: 'LORA', r: 2, lora_alpha: 2, use_rslora: false, use_dora: false, bias: 'none' })) },
      { name: 'adapter_model.safetensors', bytes: writeSafetensors([
        { name: `${p}.lora_A.weight`, dtype: 'F32', shape: [2, 16], data: Float32Array.from({ length: 32 }, (_, i) => Math.sin(i)) },
        { name: `${p}.lora_B.weight`, dtype: 'F32', shape: [16, 2], data: Float32Array.from({ length: 32 }, (_, i) => Math.cos(i)) },
      ]) },
    ];
    const [x, y] = [memoryFolder(), memoryFolder()];
    const sx = await writeMergedModel(sharded, adapter, x);
    await writeMergedModel(files, adapter, y);
    expect(sx.merged).toEqual(['model.layers.1.self_attn.o_proj.weight']);
    const [fx, fy] = [await SafetensorsFile.open(bytesSource(x.files.get('model.safetensors')!)), await SafetensorsFile.open(bytesSource(y.files.get('model.safetensors')!))];
    expect(fx.names.sort()).toEqual(fy.names.sort());
    for (const n of fx.names) expect(await fx.readRaw(n)).toEqual(await fy.readRaw(n));
    expect(x.files.has('model.safetensors.index.json')).toBe(false);
  });

  it('bad input: missing files, wrong shapes and unknown tensors are named; qzo and unknown PEFT types are refused', async () => {
    const { files, spec } = tinyModel(LLAMA, 5);
    const sink = memoryFolder();
    await expect(writeMergedModel(files, [], sink)).rejects.toThrow(/no adapter in no files/);
    const cfg = (o: Record<string, unknown>): ExportFile => ({ name: 'adapter_config.json', bytes: new TextEncoder().encode(JSON.stringify({ peft_type: 'LORA', r: 2, lora_alpha: 4, ...o })) });
    await expect(writeMergedModel(files, [cfg({})], sink)).rejects.toThrow(/no adapter_model\.safetensors/);
    await expect(writeMergedModel(files, [cfg({ peft_type: 'IA3' })], sink)).rejects.toThrow(/peft_type "IA3"/);
    const st = (tensors: [string, number[]][]) => ({ name: 'adapter_model.safetensors', bytes: writeSafetensors(tensors.map(([name, shape]) => ({ name, dtype: 'F32' as const, shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) }))) });
    const q = 'base_model.model.model.layers.0.self_attn.q_proj';
    await expect(writeMergedModel(files, [cfg({}), st([[`${q}.lora_A.weight`, [2, 16]], [`${q}.lora_B.weight`, [15, 2]]])], sink)).rejects.toThrow(new RegExp(`"${q}\\.lora_B\\.weight" has shape \\[15,2\\], expected \\[16,2\\]`));
    await expect(writeMergedModel(files, [cfg({}), st([['base_model.model.model.layers.9.mlp.up_proj.lora_A.weight', [2, 16]]])], sink)).rejects.toThrow(/layers\.9\.mlp\.up_proj, which LlamaForCausalLM has no linear layer/);
    await expect(writeMergedModel(files, [cfg({}), st([[`${q}.lora_A.weight`, [2, 16]]])], sink)).rejects.toThrow(/q_proj has lora_A but no lora_B/);
    await expect(writeMergedModel(files, [{ name: 'model.safetensors', bytes: writeSafetensors([{ name: 'nope.weight', dtype: 'F32', shape: [1], data: new Float32Array(1) }]) }], sink)).rejects.toThrow(/"nope\.weight" is not a tensor of the base/);
    await expect(writeMergedModel(files, [{ name: 'qzo_scales.safetensors', bytes: new Uint8Array() }], sink)).rejects.toThrow(/qzo run trains the block scales/);
    expect(spec.layers).toBe(2);
    expect(sink.files.size).toBe(0); // nothing written before the adapter checks out
  });
});
