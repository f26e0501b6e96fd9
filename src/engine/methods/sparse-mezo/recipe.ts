// Continue a Sparse MeZO run at scale: a full fine-tune from its weights at a usual rate.
import { zerothOrderNote } from '../mezo/recipe.ts';
import type { ScaleOutContext, ScaleOutPlan } from '../types.ts';

export function scaleOut(x: ScaleOutContext): ScaleOutPlan {
  x.approximate('sparse-mezo (zeroth-order, MeZO) has no Axolotl / TRL trainer');
  return x.lora({
    kind: 'full', lr: 1e-5, startFrom: x.start('model'),
    notes: [`${zerothOrderNote('sparse-mezo', x.lr)} a usual full fine-tuning rate of 1e-5 is used; it starts from the weights the run exported (Sparse MeZO trained only the smallest-|w| ${x.num('fraction', 0.25)} of each tensor; this trains them all)`],
  });
}
