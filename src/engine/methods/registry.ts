// Methods register themselves here when their folder's index.ts is imported.

import { ConfigError, type Schema } from '../config/schema.ts';
import { adapterConfig } from './peft-files.ts';
import type { ExportFile, MethodDef, MethodPreset } from './types.ts';

const methods = new Map<string, MethodDef>();

export function registerMethod<S extends Schema>(def: MethodDef<S>): MethodDef<S> {
  if (methods.has(def.name) && methods.get(def.name) !== def) throw new Error(`method "${def.name}" is registered twice`);
  for (const p of def.presets ?? []) {
    const other = [...methods.values()].find((m) => m !== def && m.presets?.some((q) => q.id === p.id));
    if (other) throw new Error(`method "${def.name}": preset id "${p.id}" is also one of "${other.name}"'s`);
  }
  methods.set(def.name, def);
  return def;
}

export function methodNames(): string[] {
  return [...methods.keys()].sort();
}

export function listMethods(): MethodDef[] {
  return methodNames().map((n) => getMethod(n));
}

/** Every registered method's presets, with the method each belongs to. */
export function listPresets(): { method: MethodDef; preset: MethodPreset }[] {
  return listMethods().flatMap((method) => (method.presets ?? []).map((preset) => ({ method, preset })));
}

export function getMethod(name: string): MethodDef {
  const m = methods.get(name);
  if (!m) throw new ConfigError(`unknown method "${name}" (methods: ${methodNames().join(', ') || 'none registered'})`);
  return m;
}

/**
 * The method whose file format these files are: by adapter_config.json's peft_type when
 * there is one (an unknown type is an error naming the types webtune reads), else by the
 * marker file a method's format declares; undefined when none matches.
 */
export function formatOwner(files: readonly ExportFile[]): MethodDef | undefined {
  const all = listMethods().filter((m) => m.format);
  if (files.some((f) => f.name === 'adapter_config.json')) {
    const peftType = adapterConfig(files).peft_type;
    const m = all.find((x) => x.format?.peftType !== undefined && x.format.peftType === peftType);
    if (!m) throw new ConfigError(`adapter_config.json has peft_type ${JSON.stringify(peftType)}; webtune reads ${all.flatMap((x) => x.format?.peftType ?? []).join(', ')} adapters`);
    return m;
  }
  return all.find((x) => x.format?.marker !== undefined && files.some((f) => f.name === x.format?.marker));
}

/** The formats webtune reads, in words, for errors. */
export function formatFiles(): string {
  const fs = listMethods().flatMap((m) => (m.format?.peftType ? [`adapter_config.json (peft_type ${m.format.peftType}) + adapter_model.safetensors`] : m.format?.marker ? [m.format.marker] : []));
  return fs.join(', or ');
}
