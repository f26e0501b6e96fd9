// Continue a SHiRA run at scale: Axolotl has no sparse adapter, so a LoRA of the same
// size on the same modules (from a converted adapter when given one).
import type { ScaleOutContext, ScaleOutPlan } from '../types.ts';

export function scaleOut(x: ScaleOutContext): ScaleOutPlan {
  x.approximate('SHiRA (sparse high-rank adapters) has no Axolotl adapter type');
  const r = x.num('rank', 0) || 8;
  const from = x.startFrom;
  return x.lora({
    rank: r, alpha: 2 * r, targets: x.targetsOf(x.list('targets').length ? x.config.targets : ['all-linear']), startFrom: from ?? null,
    notes: [`SHiRA trains a sparse set of weight entries, which Axolotl cannot; this is a LoRA of rank ${r} on the same modules${from ? `, starting from ${from} (a SHiRA adapter converted with export --format lora)` : ', starting fresh (convert the SHiRA adapter with export --format lora and set lora_model_dir to start from it)'}`],
  });
}
