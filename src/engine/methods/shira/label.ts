import { short } from '../label-format.ts';

// The run label of a SHiRA run: how its entries are chosen (rank, count or fraction).
export function label(cfg: Record<string, unknown>): string {
  return `shira ${Number(cfg.rank) > 0 ? `r=${short(cfg.rank)}` : Number(cfg.count) > 0 ? `K=${short(cfg.count)}` : `${short(Number(cfg.fraction) * 100)} %`}`;
}
