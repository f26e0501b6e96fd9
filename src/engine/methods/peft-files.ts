// The files of a Hugging Face PEFT adapter as webtune passes them around (ExportFile[]):
// one by name, and adapter_config.json as an object, with errors that say what is missing.

import { ConfigError } from '../config/schema.ts';
import type { ExportFile } from './types.ts';

/** The bytes of `name` (also found as `<folder>/<name>`); `what` starts the error. */
export function exportFile(files: readonly ExportFile[], name: string, what = 'PEFT adapter'): Uint8Array {
  const f = files.find((x) => x.name === name || x.name.endsWith(`/${name}`));
  if (!f) throw new ConfigError(`${what}: no ${name} among ${files.map((x) => x.name).join(', ') || 'no files'}`);
  return f.bytes;
}

/** adapter_config.json as an object. */
export function adapterConfig(files: readonly ExportFile[], what?: string): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder().decode(exportFile(files, 'adapter_config.json', what)));
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError(`adapter_config.json is not JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError('adapter_config.json is not a JSON object');
  return raw as Record<string, unknown>;
}

/** Settings of adapter_config.json that change which weights an adapter touches or how, and
 *  that webtune does not apply: refused by name rather than silently ignored (a partly applied
 *  adapter computes something else than the one trained). */
export function refuseUnsupportedPeftSettings(c: Record<string, unknown>): void {
  const nonEmpty = (v: unknown) => v !== undefined && v !== null && !(typeof v === 'object' && Object.keys(v).length === 0) && !(Array.isArray(v) && v.length === 0);
  const refused: string[] = [];
  for (const key of ['rank_pattern', 'alpha_pattern']) {
    const v = c[key];
    if (nonEmpty(v)) refused.push(`${key} (${typeof v === 'object' && v !== null ? Object.keys(v).slice(0, 5).map((k) => JSON.stringify(k)).join(', ') : JSON.stringify(v)}): per-module ranks or alphas`);
  }
  if (nonEmpty(c.modules_to_save)) refused.push(`modules_to_save (${JSON.stringify(c.modules_to_save)}): fully trained modules saved beside the adapter`);
  if (nonEmpty(c.layers_to_transform)) refused.push(`layers_to_transform (${JSON.stringify(c.layers_to_transform)}): an adapter on some layers only`);
  if (typeof c.target_modules === 'string') refused.push(`target_modules as a regular expression (${JSON.stringify(c.target_modules)}): webtune reads a list of module names`);
  if (refused.length) throw new ConfigError(`adapter_config.json uses what webtune cannot apply, so the adapter is refused rather than partly applied: ${refused.join('; ')}`);
}

/** Refuse an adapter file with tensors that were not applied (outside target_modules, biases, …). */
export function refuseUnusedTensors(all: Iterable<string>, used: ReadonlySet<string>): void {
  const left = [...all].filter((n) => !used.has(n));
  if (!left.length) return;
  throw new ConfigError(
    `adapter_model.safetensors has ${left.length} tensor${left.length > 1 ? 's' : ''} webtune would not apply (outside target_modules, or of a kind it does not load): ` +
      `${left.slice(0, 6).join(', ')}${left.length > 6 ? `, … (${left.length - 6} more)` : ''}; the adapter is refused rather than partly applied`,
  );
}
