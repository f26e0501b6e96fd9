import type { MethodPreset } from '../types.ts';

const note = 'SHiRA trains entries of f32 weights: it needs an f32 base.';

export const presets: readonly MethodPreset[] = [
  { id: 'shira-1', title: 'SHiRA 1 %', config: { fraction: 0.01 }, note, precisions: ['f32'] },
  { id: 'shira-5', title: 'SHiRA 5 %', config: { fraction: 0.05 }, note, precisions: ['f32'], compare: { trainer: { lr: 1e-2 } } },
];
