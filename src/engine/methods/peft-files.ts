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
