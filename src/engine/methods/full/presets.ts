import type { MethodPreset } from '../types.ts';

export const presets: readonly MethodPreset[] = [
  { id: 'full', title: 'Full fine-tune', config: {}, note: 'Full fine-tuning trains the f32 weights: it needs an f32 base.', precisions: ['f32'], compare: { trainer: { lr: 3e-3 } } },
];
