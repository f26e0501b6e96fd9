// Hugging Face PEFT SHiRA adapters: adapter_model.safetensors with
// `base_model.model.<module>.shira_weight` (K) F32, the values of ΔW, and
// `base_model.model.<module>.shira_indices` (2, K) I32, their (row, column) in [out, in]
// space (a GPT-2 Conv1D weight, stored (in, out), is transposed into it), in row-major order
// as PEFT's torch.where(mask) lists them; adapter_config.json with peft_type SHIRA.
// PEFT sizes a module by K = r·(in + out): `r` is exact when every module was sized by
// --rank; otherwise it is the nearest integer to ΣK / Σ(in + out), and the file's tensor
// shapes are what matter on import (ours reads K from them).

import { bytesSource } from '../../io/bytes.ts';
import { SafetensorsFile, writeSafetensors } from '../../io/safetensors.ts';
import { entryOf } from '../../kernels/layout.ts';
import type { ModelSpec } from '../../model/config.ts';
import type { Linear } from '../../model/decoder.ts';
import type { CausalLM } from '../../model/load.ts';
import { adapterConfig, exportFile, refuseUnsupportedPeftSettings, refuseUnusedTensors } from '../peft-files.ts';
import { ConfigError } from '../../config/schema.ts';
import type { ExportFile } from '../types.ts';
import { attachShira, type ShiraSet } from './adapter.ts';

/** PEFT's module path: GPT2LMHeadModel's modules live under `transformer.`. */
export function peftPath(spec: ModelSpec, name: string): string {
  return spec.family === 'gpt2' && !name.startsWith('transformer.') ? `transformer.${name}` : name;
}

const kindOf = (name: string) => name.slice(name.lastIndexOf('.') + 1);

/** PEFT's r for these adapters (see the header). */
export function peftRank(set: ShiraSet): number {
  const sizes = set.adapters.map((a) => ({ k: a.k, s: a.layer.in + a.layer.out }));
  const r = sizes[0] ? sizes[0].k / sizes[0].s : 1;
  if (Number.isInteger(r) && r >= 1 && sizes.every((x) => x.k === r * x.s)) return r;
  const k = sizes.reduce((a, x) => a + x.k, 0);
  const s = sizes.reduce((a, x) => a + x.s, 0);
  return Math.max(1, Math.round(k / Math.max(1, s)));
}

export async function writeShiraPeft(model: CausalLM, set: ShiraSet, baseModel: string): Promise<ExportFile[]> {
  const g = model.gpu;
  const tensors = [];
  for (const a of set.adapters) {
    const { out, in: inp } = a.layer;
    const idx = await g.readU32(a.idx, a.k);
    const delta = await g.readF32(a.delta, a.k);
    const rc = Array.from(idx, (at, j) => [...entryOf(at, out, inp, a.layer.w.layout), j] as const);
    rc.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
    const ind = new Int32Array(2 * a.k);
    const val = new Float32Array(a.k);
    rc.forEach(([r, c, j], i) => ((ind[i] = r), (ind[a.k + i] = c), (val[i] = delta[j])));
    const p = `base_model.model.${peftPath(model.spec, a.layer.name)}`;
    tensors.push({ name: `${p}.shira_indices`, dtype: 'I32' as const, shape: [2, a.k], data: ind });
    tensors.push({ name: `${p}.shira_weight`, dtype: 'F32' as const, shape: [a.k], data: val });
  }
  const config = {
    peft_type: 'SHIRA', task_type: 'CAUSAL_LM', base_model_name_or_path: baseModel,
    r: peftRank(set), mask_type: set.maskType, random_seed: set.seed,
    target_modules: [...new Set(set.adapters.map((a) => kindOf(a.layer.name)))],
    fan_in_fan_out: model.spec.family === 'gpt2', init_weights: true, inference_mode: true, modules_to_save: null,
  };
  return [
    { name: 'adapter_model.safetensors', bytes: writeSafetensors(tensors, { format: 'pt' }) },
    { name: 'adapter_config.json', bytes: new TextEncoder().encode(JSON.stringify(config, null, 2) + '\n') },
  ];
}

/** Attach the adapters a PEFT SHiRA export describes, with its values, onto a fresh base. */
export async function readShiraPeft(model: CausalLM, files: readonly ExportFile[]): Promise<ShiraSet> {
  const find = (n: string) => exportFile(files, n);
  const c = adapterConfig(files);
  if (c.peft_type !== 'SHIRA') throw new ConfigError(`adapter_config.json: peft_type is ${JSON.stringify(c.peft_type)}, expected "SHIRA"`);
  refuseUnsupportedPeftSettings(c);
  const st = await SafetensorsFile.open(bytesSource(find('adapter_model.safetensors'), 'adapter_model.safetensors'));
  const used = new Set<string>();
  const layers: Linear[] = [];
  const masks: Uint32Array[] = [];
  const deltas: Float32Array[] = [];
  for (const l of model.linears.values()) {
    const p = `base_model.model.${peftPath(model.spec, l.name)}`;
    const [ni, nw] = [`${p}.shira_indices`, `${p}.shira_weight`];
    if (!st.tensors.has(ni) && !st.tensors.has(nw)) continue;
    for (const n of [ni, nw]) if (!st.tensors.has(n)) throw new ConfigError(`adapter_model.safetensors has no tensor "${n}"`);
    used.add(ni).add(nw);
    const k = st.info(nw).shape.reduce((a, d) => a * d, 1);
    const si = st.info(ni).shape;
    if (st.info(nw).shape.length !== 1 || si.join(',') !== `2,${k}`) throw new ConfigError(`adapter_model.safetensors: "${ni}" has shape [${si}], expected [2, ${k}] for ${k} values`);
    const ind = await st.readI32(ni);
    const val = await st.readF32(nw);
    const { out, in: inp } = l;
    const pairs: [number, number][] = [];
    for (let j = 0; j < k; j++) {
      const [r, col] = [ind[j], ind[k + j]];
      if (!(r >= 0 && r < out && col >= 0 && col < inp)) throw new ConfigError(`adapter_model.safetensors: "${ni}" entry ${j} = (${r}, ${col}) is outside ${l.name} (${out}×${inp})`);
      pairs.push([l.w.layout === 'out-in' ? r * inp + col : col * out + r, val[j]]);
    }
    pairs.sort((x, y) => x[0] - y[0]);
    layers.push(l);
    masks.push(Uint32Array.from(pairs, (x) => x[0]));
    deltas.push(Float32Array.from(pairs, (x) => x[1]));
  }
  if (!layers.length) throw new ConfigError('adapter_model.safetensors has no shira_indices / shira_weight for any module of this model');
  const want = Array.isArray(c.target_modules) ? c.target_modules.filter((t): t is string => typeof t === 'string') : [];
  const have = new Set(layers.map((l) => kindOf(l.name)));
  const missing = want.filter((t) => !have.has(t));
  if (missing.length) throw new ConfigError(`adapter_config.json: target_modules ${missing.join(', ')} have no tensors in adapter_model.safetensors`);
  refuseUnusedTensors(st.tensors.keys(), used);
  const outside = [...have].filter((t) => want.length && !want.includes(t));
  if (outside.length) throw new ConfigError(`adapter_model.safetensors has tensors for ${outside.join(', ')}, outside target_modules (${want.join(', ')}); the adapter is refused rather than partly applied`);
  const seed = typeof c.random_seed === 'number' ? c.random_seed : 0;
  return attachShira(model, layers, masks, typeof c.mask_type === 'string' ? c.mask_type : 'random', seed, deltas);
}
