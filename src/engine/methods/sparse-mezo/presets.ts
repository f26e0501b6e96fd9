import type { MethodPreset } from '../types.ts';

export const presets: readonly MethodPreset[] = [
  { id: 'sparse-mezo-25', title: 'Sparse MeZO 25 %', config: { samples: 4 }, precisions: ['f32'], compare: { trainer: { lr: 1e-3 } } },
];
