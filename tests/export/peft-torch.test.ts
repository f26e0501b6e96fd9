// PEFT adapters written by webtune, checked against an independent implementation:
// tests/fixtures/peft/<variant>/ holds an adapter webtune exported (make-adapters.ts) and the
// logits scripts/check-peft.py computed by applying it in the plain float64 PyTorch reference
// of the fixture model as PEFT defines LoRA / rsLoRA / DoRA / fan_in_fan_out. webtune loads the
// same base + adapter through the lora method's import and must give those logits.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import '../../src/engine/methods/all.ts';
import { nodeFileSource } from '../../src/engine/io/node-file.ts';
import { nodeModelDir } from '../../src/engine/io/node-dir.ts';
import { SafetensorsFile } from '../../src/engine/io/safetensors.ts';
import { getMethod } from '../../src/engine/methods/registry.ts';
import { loadModel } from '../../src/engine/model/load.ts';
import { trainerConfig } from '../../src/engine/config/trainer.ts';
import { expectClose, testGpu } from '../helpers/gpu.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const PEFT = `${ROOT}tests/fixtures/peft/`;
const variants = readdirSync(PEFT).filter((d) => statSync(PEFT + d).isDirectory());

describe('PEFT adapters against PyTorch', () => {
  it('the fixtures exist: LoRA on Llama, Qwen2 rsLoRA, GPT-2 fan_in_fan_out, DoRA on both', () => {
    expect(variants.sort()).toEqual(['gpt2', 'gpt2-dora', 'llama-gqa-tied', 'llama-gqa-tied-dora', 'qwen2-bias-rslora']);
    for (const v of variants) for (const f of ['adapter_model.safetensors', 'adapter_config.json', 'expected.safetensors']) expect(statSync(`${PEFT}${v}/${f}`).size).toBeLessThan(16 * 1024);
  });

  for (const v of variants) {
    it(`${v}: webtune's import gives the logits PyTorch computes from the adapter`, async () => {
      const gpu = await testGpu();
      const dir = `${PEFT}${v}/`;
      const files = ['adapter_model.safetensors', 'adapter_config.json'].map((name) => ({ name, bytes: new Uint8Array(readFileSync(dir + name)) }));
      const config = JSON.parse(new TextDecoder().decode(files[1].bytes)) as { base_model_name_or_path: string; r: number };
      expect(config.r).toBe(2);
      const expected = await SafetensorsFile.open(nodeFileSource(`${dir}expected.safetensors`));
      const ids = [...(await expected.readI32('ids'))];
      const [B, T] = expected.info('ids').shape;
      const model = await loadModel(gpu, nodeModelDir(ROOT + config.base_model_name_or_path));
      const base = await model.logits(ids, B, T);
      expectClose(base, await expected.readF32('base_logits'), 2e-5, 1e-4, `${v} base`);
      const lora = getMethod('lora');
      const state = await lora.importFiles!(model, files, { seed: 0, trainer: trainerConfig(), shape: { B, T, precision: 'f32' } });
      const got = await model.logits(ids, B, T);
      const want = await expected.readF32('logits');
      // The adapter matters (logits move by O(1)), and webtune applies it as PyTorch does.
      expect(Math.max(...Array.from(want, (x, i) => Math.abs(x - base[i])))).toBeGreaterThan(0.5);
      expectClose(got, want, 2e-5, 1e-4, `${v} adapted`);
      // Merged into the weights: the same logits again.
      await state.merge();
      expectClose(await model.logits(ids, B, T), want, 1e-4, 1e-4, `${v} merged`);
      state.dispose();
      model.dispose();
    });
  }
});
