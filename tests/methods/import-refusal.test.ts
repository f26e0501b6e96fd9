// Wrong results stop loudly (issue 15, item 7): an imported PEFT adapter whose tensors or
// settings webtune cannot apply is refused with their names, never partly applied (before,
// tensors outside target_modules and alpha_pattern / rank_pattern were dropped silently);
// a checkpoint without its step, or holding NaN state, is refused before anything is loaded.

import { describe, expect, it } from 'vitest';
import '../../src/engine/methods/all.ts';
import { bytesSource } from '../../src/engine/io/bytes.ts';
import { SafetensorsFile, writeSafetensors } from '../../src/engine/io/safetensors.ts';
import { getMethod } from '../../src/engine/methods/registry.ts';
import { ConfigError, parseConfig } from '../../src/engine/config/schema.ts';
import type { ExportFile } from '../../src/engine/methods/types.ts';
import { LlamaModel } from '../../src/engine/model/llama.ts';
import { trainerConfig } from '../../src/engine/config/trainer.ts';
import { CheckpointError, loadCheckpoint, saveCheckpoint } from '../../src/engine/train/trainer.ts';
import { testGpu } from '../helpers/gpu.ts';
import { LLAMA, tinyModel } from '../helpers/tiny-model.ts';

const opts = { seed: 1, trainer: trainerConfig(), shape: { B: 1, T: 4, precision: 'f32' as const } };

async function rewrite(files: readonly ExportFile[], edit: { config?: Record<string, unknown>; extra?: string[] }): Promise<ExportFile[]> {
  const out: ExportFile[] = [];
  for (const f of files) {
    if (f.name === 'adapter_config.json' && edit.config) {
      const c = JSON.parse(new TextDecoder().decode(f.bytes)) as Record<string, unknown>;
      out.push({ name: f.name, bytes: new TextEncoder().encode(JSON.stringify({ ...c, ...edit.config })) });
    } else if (f.name === 'adapter_model.safetensors' && edit.extra) {
      const st = await SafetensorsFile.open(bytesSource(f.bytes, f.name));
      const tensors = [];
      for (const n of st.names) tensors.push({ name: n, dtype: st.info(n).dtype, shape: st.info(n).shape, data: await st.readRaw(n) });
      for (const n of edit.extra) tensors.push({ name: n, dtype: 'F32' as const, shape: [2], data: new Uint8Array(new Float32Array([1, 2]).buffer) });
      out.push({ name: f.name, bytes: writeSafetensors(tensors, { format: 'pt' }) });
    } else out.push(f);
  }
  return out;
}

describe('refused imports and checkpoints', () => {
  it('a LoRA adapter with tensors outside target_modules, or alpha_pattern / rank_pattern, is refused by name and leaves no adapter on', async () => {
    const gpu = await testGpu();
    const { files } = tinyModel(LLAMA, 2);
    const model = await LlamaModel.load(gpu, files);
    const lora = getMethod('lora');
    const state = await lora.attach(model, parseConfig(lora.schema, { rank: 2, targets: 'q_proj' }), opts);
    const good = await state.exportFiles();
    state.dispose();
    const adapters = () => [...model.linears.values()].filter((l) => l.adapter).length;
    const cases: [Parameters<typeof rewrite>[1], RegExp][] = [
      [{ extra: ['base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight'] }, /1 tensor webtune would not apply .*layers\.0\.self_attn\.k_proj\.lora_A\.weight/],
      [{ extra: ['base_model.model.model.layers.1.self_attn.q_proj.lora_B.bias'] }, /q_proj\.lora_B\.bias/],
      [{ config: { alpha_pattern: { 'model.layers.0.self_attn.q_proj': 32 } } }, /alpha_pattern \("model\.layers\.0\.self_attn\.q_proj"\)/],
      [{ config: { rank_pattern: { q_proj: 4 } } }, /rank_pattern \("q_proj"\)/],
      [{ config: { modules_to_save: ['lm_head'] } }, /modules_to_save/],
      [{ config: { layers_to_transform: [0] } }, /layers_to_transform/],
      [{ config: { target_modules: '.*q_proj' } }, /regular expression/],
    ];
    for (const [edit, msg] of cases) {
      const bad = await rewrite(good, edit);
      const err = await lora.importFiles?.(model, bad, opts).then(() => undefined, (e: unknown) => e);
      expect(err, JSON.stringify(edit)).toBeInstanceOf(ConfigError);
      expect(String(err)).toMatch(msg);
      expect(adapters(), 'nothing stays attached').toBe(0);
    }
    const back = await lora.importFiles?.(model, good, opts);
    expect(adapters()).toBeGreaterThan(0);
    back?.dispose();
    model.dispose();
  });

  it('a SHiRA adapter with tensors it would not apply is refused', async () => {
    const gpu = await testGpu();
    const { files } = tinyModel(LLAMA, 2);
    const model = await LlamaModel.load(gpu, files);
    const shira = getMethod('shira');
    const state = await shira.attach(model, parseConfig(shira.schema, { fraction: 0.05, targets: 'q_proj' }), opts);
    const good = await state.exportFiles();
    state.dispose();
    const bad = await rewrite(good, { extra: ['base_model.model.model.layers.0.mlp.up_proj.lora_A.weight'] });
    await expect(shira.importFiles?.(model, bad, opts)).rejects.toThrow(/would not apply .*mlp\.up_proj\.lora_A\.weight/);
    model.dispose();
  });

  it('a checkpoint without a step, with NaN state, or of another method is refused before the state is touched', async () => {
    const gpu = await testGpu();
    const { files } = tinyModel(LLAMA, 2);
    const model = await LlamaModel.load(gpu, files);
    const lora = getMethod('lora');
    const state = await lora.attach(model, parseConfig(lora.schema, { rank: 2, targets: 'q_proj' }), opts);
    const saved = await state.saveState();
    const ckpt = (meta: Record<string, string>, poison = false) => {
      const tensors = [...saved].map(([name, data], i) => {
        const d = data.slice();
        if (poison && i === 1) d[3] = Number.NaN;
        return { name, dtype: 'F32' as const, shape: [d.length], data: d };
      });
      return writeSafetensors(tensors, { format: 'webtune-checkpoint', ...meta });
    };
    await expect(loadCheckpoint(state, ckpt({}))).rejects.toThrow(/"step" is missing/);
    await expect(loadCheckpoint(state, ckpt({ step: 'NaN' }))).rejects.toThrow(CheckpointError);
    await expect(loadCheckpoint(state, ckpt({ step: '-1' }))).rejects.toThrow(/"step" is "-1"/);
    await expect(loadCheckpoint(state, ckpt({ step: '3' }, true))).rejects.toThrow(/holds NaN at index 3/);
    await expect(loadCheckpoint(state, ckpt({ step: '3', method: 'shira' }), 'c.safetensors', { method: 'lora' })).rejects.toThrow(/a shira run, not of lora/);
    expect((await loadCheckpoint(state, await saveCheckpoint(state, 3, { method: 'lora' }), 'c', { method: 'lora' })).nextStep).toBe(4);
    state.dispose();
    model.dispose();
  });
});
