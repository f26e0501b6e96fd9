// Continue a MeZO run at scale: the closest first-order recipe (LoRA from its ZO-LoRA
// adapter, or a full fine-tune from its weights) at a usual first-order rate.
import type { ScaleOutContext, ScaleOutPlan } from '../types.ts';

export function zerothOrderNote(method: string, lr: number): string {
  return `${method} is zeroth-order (two perturbed forwards per step, no backward); Axolotl and TRL train first-order, so this is the closest first-order recipe. Its learning rate ${lr} (SGD on a projected gradient) does not carry over:`;
}

export function scaleOut(x: ScaleOutContext): ScaleOutPlan {
  x.approximate('mezo (zeroth-order, MeZO) has no Axolotl / TRL trainer');
  const zo = zerothOrderNote('mezo', x.lr);
  if (x.config.trainable === 'lora') return x.lora({ lr: 2e-4, notes: [`${zo} a usual LoRA rate of 2e-4 is used; it starts from the ZO-LoRA adapter the run exported`] });
  return x.lora({ kind: 'full', lr: 1e-5, startFrom: x.start('model'), notes: [`${zo} a usual full fine-tuning rate of 1e-5 is used; it starts from the weights the run exported`] });
}
