// Continue a LoRA run at scale: the same adapter, from its exported PEFT folder.
import type { ScaleOutContext, ScaleOutPlan } from '../types.ts';

export function scaleOut(x: ScaleOutContext): ScaleOutPlan {
  return x.lora();
}
