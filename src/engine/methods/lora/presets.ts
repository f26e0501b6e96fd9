import type { MethodPreset } from '../types.ts';

export const presets: readonly MethodPreset[] = [
  {
    id: 'qlora-attn',
    title: 'QLoRA r=8 on attention',
    config: { rank: 8, alpha: 16, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj'] },
    note: 'QLoRA needs a q4 (or nf4) base: pick it under Base precision in the Model panel and load the model again.',
    precisions: ['q4', 'nf4'],
  },
  { id: 'lora-16', title: 'LoRA r=16 all-linear', config: { rank: 16, alpha: 32, targets: ['all-linear'] } },
  { id: 'lora-8', title: 'LoRA r=8 all-linear', config: { rank: 8, targets: ['all-linear'] }, compare: { trainer: { lr: 1e-2 } } },
  {
    id: 'qlora-8',
    title: 'QLoRA r=8 all-linear',
    config: { rank: 8, targets: ['all-linear'] },
    note: 'QLoRA needs a q4 (or nf4) base: pick it under Base precision in the Model panel and load the model again.',
    precisions: ['q4', 'nf4'],
    compare: { trainer: { lr: 1e-2 } },
  },
  { id: 'dora-8', title: 'DoRA r=8 all-linear', config: { rank: 8, targets: ['all-linear'], dora: true }, compare: { trainer: { lr: 1e-2 } } },
];
