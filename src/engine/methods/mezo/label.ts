import { short } from '../label-format.ts';

// The run label of a MeZO run: the rank in ZO-LoRA mode, and ε.
export function label(cfg: Record<string, unknown>): string {
  return `mezo${cfg.trainable === 'lora' ? ` r=${short(cfg.rank)}` : ''} ε=${short(cfg.eps)}`;
}
