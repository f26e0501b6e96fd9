// The model's f32 weights as one safetensors file in the checkpoint's own tensor names, and
// back: the export of methods that train the weights in place (full, MeZO on all weights).

import { bytesSource } from '../io/bytes.ts';
import { SafetensorsFile, writeSafetensors } from '../io/safetensors.ts';
import type { ModelSpec } from '../model/config.ts';
import type { CausalLM } from '../model/load.ts';
import { ConfigError } from '../config/schema.ts';
import type { Checkpoint } from '../io/model-files.ts';
import { safetensorsOf } from './merge-host.ts';
import type { ExportFile, HostEdits, TensorEdit } from './types.ts';

/** A parameter's checkpoint shape from its name (1-D for norms and biases). */
function shapeOf(spec: ModelSpec, name: string, n: number): number[] {
  if (!name.endsWith('.weight') || name.includes('norm') || name.includes('ln_')) return [n];
  const l = name.slice(0, -'.weight'.length);
  const { hidden: C, intermediate: I, heads, kvHeads, headDim: D } = spec;
  const table: Record<string, [number, number]> = spec.family === 'gpt2'
    ? { c_attn: [C, 3 * C], c_fc: [C, I], wte: [n / C, C], wpe: [n / C, C], c_proj: l.includes('.mlp.') ? [I, C] : [C, C] }
    : { q_proj: [heads * D, C], k_proj: [kvHeads * D, C], v_proj: [kvHeads * D, C], o_proj: [C, heads * D], gate_proj: [I, C], up_proj: [I, C], down_proj: [C, I], embed_tokens: [n / C, C], lm_head: [n / C, C] };
  return table[l.slice(l.lastIndexOf('.') + 1)] ?? [n];
}

/** Every f32 weight of the model (trained or not) as model.safetensors. */
export async function exportWeights(model: CausalLM): Promise<ExportFile> {
  const tensors = [];
  for (const [name, buf] of model.params) {
    const data = await model.gpu.readF32(buf);
    tensors.push({ name, dtype: 'F32' as const, shape: shapeOf(model.spec, name, data.length), data });
  }
  return { name: 'model.safetensors', bytes: writeSafetensors(tensors, { format: 'pt' }) };
}

/** Load an `exportWeights` file back into the model's f32 weights. */
export async function importWeights(model: CausalLM, files: readonly ExportFile[]): Promise<void> {
  const f = files.find((x) => x.name === 'model.safetensors');
  if (!f) throw new ConfigError('the export has no model.safetensors');
  const st = await SafetensorsFile.open(bytesSource(f.bytes, 'model.safetensors'));
  for (const [name, buf] of model.params) {
    if (!st.tensors.has(name)) throw new ConfigError(`model.safetensors has no tensor "${name}"`);
    const v = await st.readF32(name);
    if (v.length * 4 !== buf.size) throw new ConfigError(`model.safetensors: "${name}" has ${v.length} values, the model ${buf.size / 4}`);
    model.gpu.write(buf, v);
  }
}

/** model.safetensors (the trained weights) folded into the base: each tensor replaced. */
export async function weightHostEdits(files: readonly ExportFile[], { ckpt }: { ckpt: Checkpoint }): Promise<HostEdits> {
  const st = await safetensorsOf(files, 'model.safetensors');
  const edits = new Map<string, TensorEdit>();
  for (const name of st.names) {
    const base = [name, name.startsWith('transformer.') ? name.slice(12) : `transformer.${name}`].find((n) => ckpt.has(n));
    if (!base) throw new ConfigError(`model.safetensors: "${name}" is not a tensor of the base checkpoint`);
    const want = ckpt.info(base).shape.reduce((a, d) => a * d, 1);
    const got = st.info(name).shape.reduce((a, d) => a * d, 1);
    if (want !== got) throw new ConfigError(`model.safetensors: "${name}" has ${got} values, the base's "${base}" ${want}`);
    edits.set(base, { apply: () => st.readF32(name) });
  }
  return { kind: 'weights', edits };
}
