import { short } from '../label-format.ts';

// The run label of a Sparse MeZO run: ε.
export function label(cfg: Record<string, unknown>): string {
  return `sparse-mezo ε=${short(cfg.eps)}`;
}
