// A PEFT LoRA / DoRA adapter folded into a base checkpoint on the host (the merged export):
//   W' = W + s·B·A                                   (s = alpha / r, rsLoRA alpha / √r)
//   W' = (m / ‖W + s·B·A‖_row) ⊙ (W + s·B·A)          (DoRA; row = output; biases unchanged)
// Conv1D weights (GPT-2) in their (in, out) order.

import type { Checkpoint } from '../../io/model-files.ts';
import type { ModelSpec } from '../../model/config.ts';
import { ConfigError } from '../../config/schema.ts';
import { addTo, linearsByModule, moduleOf, safetensorsOf } from '../merge-host.ts';
import { adapterConfig } from '../peft-files.ts';
import type { ExportFile, HostEdits, TensorEdit } from '../types.ts';
import { loraDelta } from './adapter.ts';
import { doraMergedWeight } from './dora.ts';

const nonEmpty = (v: unknown) => typeof v === 'object' && v !== null && Object.keys(v).length > 0;

export async function loraHostEdits(files: readonly ExportFile[], { spec, ckpt }: { spec: ModelSpec; ckpt: Checkpoint }): Promise<HostEdits> {
  const c = adapterConfig(files);
  const alpha = Number(c.lora_alpha);
  if (!(alpha > 0)) throw new ConfigError(`adapter_config.json: lora_alpha = ${String(c.lora_alpha)} must be a positive number`);
  if (nonEmpty(c.alpha_pattern)) throw new ConfigError('merge: adapter_config.json has an alpha_pattern, which this merge does not read');
  if (c.bias !== undefined && c.bias !== 'none') throw new ConfigError(`merge: adapter_config.json has bias = ${JSON.stringify(c.bias)}; only bias "none" adapters are merged`);
  if (Array.isArray(c.modules_to_save) && c.modules_to_save.length) throw new ConfigError(`merge: adapter_config.json has modules_to_save (${c.modules_to_save.join(', ')}), which this merge does not read`);
  const rslora = c.use_rslora === true;
  const dora = c.use_dora === true;
  const st = await safetensorsOf(files, 'adapter_model.safetensors');
  const mods = linearsByModule(spec, ckpt);
  const parts = new Map<string, { A?: string; B?: string; m?: string }>();
  for (const key of st.names) {
    const a = moduleOf(key, '.lora_A.weight');
    const b = moduleOf(key, '.lora_B.weight');
    const m = moduleOf(key, '.lora_magnitude_vector') ?? moduleOf(key, '.lora_magnitude_vector.weight');
    const mod = a ?? b ?? m;
    if (mod === undefined) throw new ConfigError(`adapter_model.safetensors: "${key}" is not a lora_A / lora_B weight${dora ? ' or a magnitude vector' : ''}`);
    if (!mods.has(mod)) throw new ConfigError(`adapter_model.safetensors: "${key}" adapts ${mod}, which ${spec.architecture} has no linear layer for`);
    if (m !== undefined && !dora) throw new ConfigError(`adapter_model.safetensors: "${key}" is a DoRA magnitude, but adapter_config.json has use_dora false`);
    const p = parts.get(mod) ?? {};
    p[a !== undefined ? 'A' : b !== undefined ? 'B' : 'm'] = key;
    parts.set(mod, p);
  }
  if (!parts.size) throw new ConfigError('adapter_model.safetensors has no lora_A / lora_B tensors');
  const edits = new Map<string, TensorEdit>();
  for (const [mod, p] of parts) {
    const { l, weight } = mods.get(mod)!;
    if (!p.A || !p.B) throw new ConfigError(`adapter_model.safetensors: ${mod} has ${p.A ? 'lora_A but no lora_B' : 'no lora_A'}`);
    if (dora && !p.m) throw new ConfigError(`adapter_model.safetensors: ${mod} has no lora_magnitude_vector (adapter_config.json says use_dora)`);
    const r = st.info(p.A).shape[0];
    const want: [string, number[]][] = [[p.A, [r, l.in]], [p.B, [l.out, r]], ...(p.m ? [[p.m, [l.out]] as [string, number[]]] : [])];
    for (const [name, shape] of want) {
      const got = st.info(name).shape;
      if (got.join(',') !== shape.join(',')) throw new ConfigError(`adapter_model.safetensors: "${name}" has shape [${got}], expected [${shape}] for ${weight}`);
    }
    const scale = rslora ? alpha / Math.sqrt(r) : alpha / r;
    const [A, B] = [await st.readF32(p.A), await st.readF32(p.B)];
    const m = p.m ? await st.readF32(p.m) : undefined;
    edits.set(weight, {
      linear: l,
      apply(w) {
        const d = loraDelta(A, B, r, l.out, l.in, scale, l.layout);
        return m ? doraMergedWeight(w, d, m, l.out, l.in, l.layout) : addTo(w, d);
      },
    });
  }
  return { kind: dora ? 'dora' : 'lora', edits };
}
