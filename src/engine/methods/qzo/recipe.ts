// Continue a QZO run at scale: QLoRA on a 4-bit base is the closest recipe.
import type { ScaleOutContext, ScaleOutPlan } from '../types.ts';

export function scaleOut(x: ScaleOutContext): ScaleOutPlan {
  x.approximate('QZO (zeroth-order training of quantization scales) has no Axolotl / TRL trainer');
  return x.lora({
    rank: 8, alpha: 16, targets: x.targetsOf(x.config.targets), lr: 2e-4, startFrom: x.startFrom ?? null,
    notes: [`QZO trains a quantized base's scales without gradients; the closest recipe is QLoRA on a 4-bit base, a fresh rank-8 adapter at a usual rate of 2e-4 (QZO's ${x.lr} does not carry over)`],
  });
}
