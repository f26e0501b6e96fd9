// Which linear layers a method adapts, by module kind (`q_proj`, `c_attn`, …) as PEFT's
// `target_modules` names them, checked against the architecture before any GPU work.

import type { ModelSpec } from '../model/config.ts';
import { linearShapes, type LinearShape } from '../model/memory.ts';
import { ConfigError } from '../config/schema.ts';

/** PEFT's defaults per architecture (TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING). */
export function defaultTargets(s: ModelSpec): string[] {
  return s.family === 'gpt2' ? ['c_attn'] : ['q_proj', 'v_proj'];
}

export function moduleKinds(s: ModelSpec): string[] {
  return [...new Set(linearShapes(s).map((l) => l.kind))];
}

/**
 * The linear layers named by `targets` (empty: the architecture's default; `all-linear`:
 * every one), or a ConfigError listing what this architecture has.
 */
export function selectLinears(s: ModelSpec, targets: readonly string[], flag = '--targets'): LinearShape[] {
  const kinds = moduleKinds(s);
  const wanted = targets.length === 0 ? defaultTargets(s) : targets.includes('all-linear') ? kinds : targets;
  const unknown = wanted.filter((t) => !kinds.includes(t));
  if (unknown.length) throw new ConfigError(`${flag}: ${s.architecture} has no module ${unknown.map((u) => `"${u}"`).join(', ')} (it has ${kinds.join(', ')}, or all-linear)`);
  return linearShapes(s).filter((l) => wanted.includes(l.kind));
}
