// Continue a full fine-tune at scale: every weight, from the exported weights.
import type { ScaleOutContext, ScaleOutPlan } from '../types.ts';

export function scaleOut(x: ScaleOutContext): ScaleOutPlan {
  const only = [...x.list('targets'), ...x.list('layers').map((l) => `layer ${l}`)];
  const p = x.lora({ kind: 'full', startFrom: x.start('model') });
  return only.length ? { ...p, notes: [`webtune trained only ${only.join(', ')}; this recipe trains every weight (Axolotl: unfrozen_parameters can narrow it)`] } : p;
}
