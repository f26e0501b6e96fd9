// Hugging Face PEFT LoRA adapters: adapter_model.safetensors with
// `base_model.model.<module>.lora_A.weight` (r, in) and `.lora_B.weight` (out, r), and
// adapter_config.json (peft_type LORA). Written by `lora` and by `mezo` in ZO-LoRA mode,
// read back by their imports.
// DoRA (use_dora: true) adds `base_model.model.<module>.lora_magnitude_vector` (out): PEFT
// keeps the magnitude as `lora_magnitude_vector.<adapter>.weight` in the module but its
// get_peft_model_state_dict strips the `.weight` when saving (utils/save_and_load.py, "we
// want the state_dict format not to change") and set_peft_model_state_dict adds it back on
// load; we write the saved form and read either.

import { bytesSource } from '../../io/bytes.ts';
import { SafetensorsFile, writeSafetensors } from '../../io/safetensors.ts';
import type { ModelSpec } from '../../model/config.ts';
import type { CausalLM } from '../../model/load.ts';
import { adapterConfig, exportFile, refuseUnsupportedPeftSettings, refuseUnusedTensors } from '../peft-files.ts';
import { ConfigError } from '../../config/schema.ts';
import type { ExportFile } from '../types.ts';
import { attachLora, type LoraSet, type LoraShape } from './adapter.ts';
import { DoraLinear } from './dora.ts';

/** PEFT's module path: GPT2LMHeadModel's modules live under `transformer.`. */
function peftPath(spec: ModelSpec, name: string): string {
  return spec.family === 'gpt2' && !name.startsWith('transformer.') ? `transformer.${name}` : name;
}

export async function writePeft(model: CausalLM, set: LoraSet, baseModel: string): Promise<ExportFile[]> {
  const g = model.gpu;
  const tensors = [];
  for (const a of set.adapters) {
    const p = `base_model.model.${peftPath(model.spec, a.layer.name)}`;
    tensors.push({ name: `${p}.lora_A.weight`, dtype: 'F32' as const, shape: [a.r, a.layer.in], data: await g.readF32(a.A) });
    tensors.push({ name: `${p}.lora_B.weight`, dtype: 'F32' as const, shape: [a.layer.out, a.r], data: await g.readF32(a.B) });
    if (a instanceof DoraLinear) tensors.push({ name: `${p}.lora_magnitude_vector`, dtype: 'F32' as const, shape: [a.layer.out], data: await g.readF32(a.m) });
  }
  const targets = [...new Set(set.adapters.map((a) => a.layer.name.slice(a.layer.name.lastIndexOf('.') + 1)))];
  const config = {
    peft_type: 'LORA', task_type: 'CAUSAL_LM', base_model_name_or_path: baseModel,
    r: set.cfg.rank, lora_alpha: set.cfg.alpha, lora_dropout: 0, target_modules: targets,
    use_rslora: set.cfg.rslora, use_dora: set.cfg.dora === true, fan_in_fan_out: model.spec.family === 'gpt2', bias: 'none',
    init_lora_weights: true, inference_mode: true, modules_to_save: null, layers_to_transform: null, rank_pattern: {}, alpha_pattern: {},
  };
  return [
    { name: 'adapter_model.safetensors', bytes: writeSafetensors(tensors, { format: 'pt' }) },
    { name: 'adapter_config.json', bytes: new TextEncoder().encode(JSON.stringify(config, null, 2) + '\n') },
  ];
}

/** Attach the adapters a PEFT LoRA export describes, with its values. A DoRA export
 *  (use_dora) is accepted only where the caller can train one (`opts.dora`). */
export async function readPeft(model: CausalLM, files: readonly ExportFile[], opts: { dora?: boolean } = {}): Promise<LoraSet> {
  const find = (n: string) => exportFile(files, n);
  const c = adapterConfig(files);
  if (c.peft_type !== 'LORA') throw new ConfigError(`adapter_config.json: peft_type is ${JSON.stringify(c.peft_type)}, expected "LORA"`);
  if (c.use_dora === true && !opts.dora) throw new ConfigError('adapter_config.json: DoRA adapters (use_dora) are not supported here; import them with the lora method');
  refuseUnsupportedPeftSettings(c);
  const targets = Array.isArray(c.target_modules) ? c.target_modules.filter((t): t is string => typeof t === 'string') : [];
  const cfg: LoraShape = { rank: Number(c.r), alpha: Number(c.lora_alpha), targets, rslora: c.use_rslora === true, dora: c.use_dora === true };
  if (!Number.isInteger(cfg.rank) || cfg.rank < 1 || !(cfg.alpha > 0)) {
    throw new ConfigError(`adapter_config.json: r = ${String(c.r)} and lora_alpha = ${String(c.lora_alpha)} must be a positive integer and a positive number`);
  }
  const st = await SafetensorsFile.open(bytesSource(find('adapter_model.safetensors'), 'adapter_model.safetensors'));
  const used = new Set<string>();
  const set = await attachLora(model, cfg, async (l, A, B, _i, m) => {
    const p = `base_model.model.${peftPath(model.spec, l.name)}`;
    const want: [string, typeof A, number[]][] = [[`${p}.lora_A.weight`, A, [cfg.rank, l.in]], [`${p}.lora_B.weight`, B, [l.out, cfg.rank]]];
    if (m) {
      const mag = `${p}.lora_magnitude_vector`;
      want.push([st.tensors.has(mag) || !st.tensors.has(`${mag}.weight`) ? mag : `${mag}.weight`, m, [l.out]]);
    }
    for (const [name, buf, shape] of want) {
      if (!st.tensors.has(name)) throw new ConfigError(`adapter_model.safetensors has no tensor "${name}"`);
      const got = st.info(name).shape;
      if (got.join(',') !== shape.join(',')) throw new ConfigError(`adapter_model.safetensors: "${name}" has shape [${got}], expected [${shape}]`);
      model.gpu.write(buf, await st.readF32(name));
      used.add(name);
    }
  });
  try {
    refuseUnusedTensors(st.tensors.keys(), used);
  } catch (e) {
    set.detach();
    throw e;
  }
  return set;
}
