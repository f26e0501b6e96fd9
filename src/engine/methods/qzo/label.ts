import { short } from '../label-format.ts';

// The run label of a QZO run: ε.
export function label(cfg: Record<string, unknown>): string {
  return `qzo ε=${short(cfg.eps)}`;
}
