// A PEFT SHiRA adapter folded into a base checkpoint on the host (the merged export):
// W'[r, c] = W[r, c] + shira_weight[k] at each (r, c) = shira_indices[:, k].

import type { Checkpoint } from '../../io/model-files.ts';
import type { ModelSpec } from '../../model/config.ts';
import { ConfigError } from '../../config/schema.ts';
import { linearsByModule, moduleOf, safetensorsOf } from '../merge-host.ts';
import type { ExportFile, HostEdits, TensorEdit } from '../types.ts';

export async function shiraHostEdits(files: readonly ExportFile[], { spec, ckpt }: { spec: ModelSpec; ckpt: Checkpoint }): Promise<HostEdits> {
  const st = await safetensorsOf(files, 'adapter_model.safetensors');
  const mods = linearsByModule(spec, ckpt);
  const seen = new Set<string>();
  const edits = new Map<string, TensorEdit>();
  for (const key of st.names) {
    const mod = moduleOf(key, '.shira_weight') ?? moduleOf(key, '.shira_indices');
    if (mod === undefined) throw new ConfigError(`adapter_model.safetensors: "${key}" is not a shira_weight / shira_indices tensor`);
    if (!mods.has(mod)) throw new ConfigError(`adapter_model.safetensors: "${key}" adapts ${mod}, which ${spec.architecture} has no linear layer for`);
    if (seen.has(mod)) continue;
    seen.add(mod);
    const [ni, nw] = [`base_model.model.${mod}.shira_indices`, `base_model.model.${mod}.shira_weight`];
    for (const n of [ni, nw]) if (!st.tensors.has(n)) throw new ConfigError(`adapter_model.safetensors has no tensor "${n}"`);
    const { l, weight } = mods.get(mod)!;
    const sw = st.info(nw).shape;
    const k = sw[0] ?? 0;
    const si = st.info(ni).shape;
    if (sw.length !== 1 || si.join(',') !== `2,${k}`) throw new ConfigError(`adapter_model.safetensors: "${ni}" has shape [${si}], expected [2, ${k}] for ${k} values`);
    const ind = await st.readI32(ni);
    const values = await st.readF32(nw);
    const index = new Uint32Array(k);
    for (let j = 0; j < k; j++) {
      const [row, col] = [ind[j], ind[k + j]];
      if (!(row >= 0 && row < l.out && col >= 0 && col < l.in)) throw new ConfigError(`adapter_model.safetensors: "${ni}" entry ${j} = (${row}, ${col}) is outside ${weight} (${l.out}×${l.in})`);
      index[j] = l.layout === 'out-in' ? row * l.in + col : col * l.out + row;
    }
    edits.set(weight, {
      linear: l,
      apply(w) {
        const s = Float64Array.from(w);
        for (let j = 0; j < index.length; j++) s[index[j]] += values[j];
        return s;
      },
    });
  }
  if (!edits.size) throw new ConfigError('adapter_model.safetensors has no shira_indices / shira_weight tensors');
  return { kind: 'shira', edits };
}
