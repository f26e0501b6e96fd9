import { short } from '../label-format.ts';

// The run label of a LoRA (DoRA) run: its rank.
export function label(cfg: Record<string, unknown>): string {
  return `lora r=${short(cfg.rank)}`;
}
