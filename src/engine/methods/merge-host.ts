// What the methods' merged-export readers share (methods/<m>/merge-host.ts): the module a
// PEFT key adapts, and the base checkpoint's linear layers by module name.

import { bytesSource } from '../io/bytes.ts';
import type { Checkpoint } from '../io/model-files.ts';
import { SafetensorsFile } from '../io/safetensors.ts';
import type { ModelSpec } from '../model/config.ts';
import { linearShapes, type LinearShape } from '../model/memory.ts';
import { ConfigError } from '../config/schema.ts';
import type { ExportFile } from './types.ts';

/** The module a PEFT key adapts, as the checkpoint names it. */
export function moduleOf(key: string, suffix: string): string | undefined {
  if (!key.startsWith('base_model.model.') || !key.endsWith(suffix)) return undefined;
  return key.slice('base_model.model.'.length, key.length - suffix.length);
}

/** Checkpoint weight names of the spec's linear layers (GPT-2 with or without "transformer."). */
export function linearsByModule(spec: ModelSpec, ckpt: Checkpoint): Map<string, { l: LinearShape; weight: string }> {
  const prefix = spec.family === 'gpt2' && ckpt.has('transformer.wte.weight') ? 'transformer.' : '';
  const out = new Map<string, { l: LinearShape; weight: string }>();
  for (const l of linearShapes(spec, spec.family === 'gpt2' ? prefix : 'model.')) {
    const entry = { l, weight: `${l.name}.weight` };
    out.set(l.name, entry);
    if (spec.family === 'gpt2') out.set(prefix ? l.name.slice(prefix.length) : `transformer.${l.name}`, entry); // PEFT always writes transformer.
  }
  return out;
}

/** One of the files as a safetensors file; a missing one is named. */
export async function safetensorsOf(files: readonly ExportFile[], name: string): Promise<SafetensorsFile> {
  const f = files.find((x) => x.name === name);
  if (!f) throw new ConfigError(`merge: the adapter has no ${name} (files: ${files.map((x) => x.name).join(', ') || 'none'})`);
  return SafetensorsFile.open(bytesSource(f.bytes, name));
}

/** W + d, in f64 (the merge encodes to the checkpoint's dtype after). */
export function addTo(w: Float32Array, d: ArrayLike<number>): Float64Array {
  const s = Float64Array.from(w);
  for (let i = 0; i < s.length; i++) s[i] += d[i];
  return s;
}
