import type { MethodPreset } from '../types.ts';

export const presets: readonly MethodPreset[] = [
  { id: 'mezo', title: 'MeZO ε=1e-3', config: { eps: 1e-3, trainable: 'all' } },
  { id: 'mezo-4', title: 'MeZO, 4 samples', config: { eps: 1e-3, samples: 4, trainable: 'all' }, precisions: ['f32'], compare: { trainer: { lr: 3e-4 } } },
  {
    id: 'zo-lora-q8',
    title: 'ZO-LoRA r=8 (q8 base)',
    config: { trainable: 'lora', rank: 8, targets: ['all-linear'], samples: 4 },
    note: 'ZO-LoRA perturbs LoRA adapters on a frozen base; any precision works, q8 keeps inference memory small.',
    precisions: ['q8'],
    compare: { trainer: { lr: 3e-3 } },
  },
];
