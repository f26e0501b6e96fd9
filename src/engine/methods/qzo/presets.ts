import type { MethodPreset } from '../types.ts';

export const presets: readonly MethodPreset[] = [
  {
    id: 'qzo-q4',
    title: 'QZO on q4 scales',
    config: { samples: 4 },
    note: 'QZO trains the block scales of a quantized base: load the model as q4 (or q8).',
    precisions: ['q4', 'q8'],
    compare: {},
  },
];
