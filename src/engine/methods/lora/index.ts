// `lora`: low-rank adapters on chosen linear layers (LoRA; on a q4 / nf4 base this is
// QLoRA). Only A and B get gradients and optimizer state; the base's weight gradient is
// never formed. With `dora` (DoRA, ./dora.ts; QDoRA on a quantized base) a magnitude per
// output row is trained too. Exports a Hugging Face PEFT adapter and imports one.

import { zeroByCategory } from '../../gpu/ledger.ts';
import { fillUniform } from '../../kernels/rng.ts';
import type { ModelSpec } from '../../model/config.ts';
import type { CausalLM } from '../../model/load.ts';
import { activationBytes, frozenGradScratch, weightBytes } from '../../model/memory.ts';
import { Optimizer, optimizerBytes } from '../../optim/optimizer.ts';
import { FirstOrderState } from '../state.ts';
import { registerMethod } from '../registry.ts';
import { ConfigError, type ConfigOf } from '../../config/schema.ts';
import { selectLinears } from '../targets.ts';
import type { AttachOptions, ExportFile, MethodDef } from '../types.ts';
import { attachLora, checkLora, type LoraSet, type LoraShape } from './adapter.ts';
import { DORA_ONEHOT_ROWS } from './dora.ts';
import { readPeft, writePeft } from './peft.ts';
import { label } from './label.ts';
import { presets } from './presets.ts';
import { scaleOut } from './recipe.ts';
import { loraHostEdits } from './merge-host.ts';

export const LORA_SCHEMA = {
  rank: { kind: 'number', default: 8, min: 1, integer: true, help: 'Rank r of each adapter: A is (r, in), B is (out, r).' },
  alpha: { kind: 'number', default: 16, min: 0, minExclusive: true, help: 'Scaling numerator: the update is (alpha / r)·B·A (alpha / √r with rsLoRA).' },
  targets: { kind: 'list', default: [], help: 'Module names to adapt (q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj; GPT-2: c_attn, c_proj, c_fc), or all-linear. Empty: PEFT\'s default for the architecture.' },
  rslora: { kind: 'boolean', default: false, help: 'Rank-stabilised scaling alpha / √r (Kalajdzievski 2023) instead of alpha / r.' },
  dora: { kind: 'boolean', default: false, help: 'DoRA (Liu et al. 2024): train a magnitude per output row over the row-normalised W + s·B·A, (m / ‖W + s·B·A‖)·(W + s·B·A), the norm held constant in backward as PEFT does (use_dora). On a quantized base this is QDoRA.' },
} as const;

/** Adapter values and the rank summed over adapted layers (LoRA activations per token). */
export function loraSize(spec: ModelSpec, cfg: LoraShape): { params: number; rankPerToken: number } {
  const ls = selectLinears(spec, cfg.targets);
  return { params: ls.reduce((a, l) => a + cfg.rank * (l.in + l.out), 0), rankPerToken: ls.length * cfg.rank };
}

/**
 * What DoRA adds to LoRA's memory (per adapted layer, `out` outputs): m and ‖W_o‖² under
 * 'adapter'; m's gradient; per pass the norm pieces A·Wᵀ (r, out), A·Aᵀ (r, r), B·A·Aᵀ
 * (out, r), m / n and 1 / n (out each) and the unscaled output v (N, out); in backward
 * c ⊙ dy and (c − 1) ⊙ dy (N, out each). `attachTemp`: the largest one-hot read of a
 * quantized weight's rows at attach (activations, freed before training).
 */
export function doraSize(spec: ModelSpec, cfg: LoraShape, N: number, train: boolean, quantized: boolean) {
  const f32 = (n: number) => 4 * Math.max(1, n);
  const r = cfg.rank;
  let magnitudes = 0;
  let perPass = 0;
  let attachTemp = 0;
  for (const l of selectLinears(spec, cfg.targets)) {
    magnitudes += l.out;
    perPass += f32(r * l.out) + f32(r * r) + f32(l.out * r) + 2 * f32(l.out) + f32(N * l.out) + (train ? 2 * f32(N * l.out) : 0);
    const R = Math.min(DORA_ONEHOT_ROWS, l.in);
    if (quantized) attachTemp = Math.max(attachTemp, f32(R * l.in) + f32(R * l.out));
  }
  return { magnitudes, activations: perPass, attachTemp };
}

/** PEFT's initialisation: A ~ kaiming_uniform_(a=√5) = U(±1/√in) (as nn.Linear), B = 0. */
export function initLora(model: CausalLM, cfg: LoraShape, seed: number): Promise<LoraSet> {
  return attachLora(model, cfg, async (l, A, B, i) => {
    const bound = 1 / Math.sqrt(l.in);
    fillUniform(model.gpu, A, cfg.rank * l.in, seed, 0, -bound, bound, i);
    model.gpu.write(B, new Float32Array(l.out * cfg.rank));
  });
}

class LoraState extends FirstOrderState {
  readonly exportFormats = ['peft'] as const;
  readonly modifiesBase = false; // the adapters come off on dispose

  constructor(
    model: CausalLM,
    private readonly set: LoraSet,
    opt: Optimizer,
    private readonly baseModel: string,
  ) {
    super(model, opt);
  }

  async exportFiles(format = 'peft'): Promise<ExportFile[]> {
    if (format !== 'peft') throw new ConfigError(`lora exports ${this.exportFormats.join(', ')}, not "${format}"`);
    return writePeft(this.model, this.set, this.baseModel);
  }

  merge(): Promise<void> {
    return this.set.merge(this.model);
  }

  override dispose(): void {
    this.set.detach();
    super.dispose();
  }
}

async function withOptimizer(model: CausalLM, set: LoraSet, opts: AttachOptions): Promise<LoraState> {
  try {
    return new LoraState(model, set, await Optimizer.create(model.gpu, model.gpu.arena, set.params(), opts.trainer), opts.baseModel ?? '');
  } catch (e) {
    set.detach();
    throw e;
  }
}

export const lora: MethodDef<typeof LORA_SCHEMA> = registerMethod({
  name: 'lora',
  presets,
  format: { peftType: 'LORA', hostEdits: loraHostEdits },
  // llama.cpp and LoRA-Squeeze read plain LoRA; DoRA's magnitudes have no place there.
  offers: (cfg) => (cfg.dora ? ['merged', 'recipe'] : ['merged', 'gguf', 'squeeze', 'recipe']),
  label,
  scaleOut,
  family: 'first-order',
  title: 'LoRA / QLoRA: low-rank adapters on a frozen (optionally quantized) base',
  help: 'Trains rank-r matrices A and B beside chosen linear layers, W + (alpha/r)·B·A (Hu et al. 2021). On a q4 or nf4 base this is QLoRA (Dettmers et al. 2023): the base stays quantized and frozen, and only the adapters get gradients and AdamW state. Exports a Hugging Face PEFT adapter.',
  schema: LORA_SCHEMA,
  trainerDefaults: { lr: 2e-3 },
  check: (spec, cfg) => void checkLora(spec, cfg),
  estimateMemory(spec, cfg, shape, trainer) {
    const { params, rankPerToken } = loraSize(spec, cfg);
    const m = zeroByCategory();
    m.weights = weightBytes(spec, shape.precision);
    m.adapter = params * 4;
    m.gradients = params * 4 * (trainer.accum > 1 ? 2 : 1);
    m.optimizer = optimizerBytes(params + (cfg.dora ? doraSize(spec, cfg, shape.B * shape.T, true, shape.precision !== 'f32').magnitudes : 0), trainer);
    m.activations = activationBytes(spec, shape.B, shape.T, true, rankPerToken);
    m.scratch = frozenGradScratch(spec, shape.B, shape.T);
    if (cfg.dora) {
      const d = doraSize(spec, cfg, shape.B * shape.T, true, shape.precision !== 'f32');
      m.adapter += 2 * d.magnitudes * 4;
      m.gradients += d.magnitudes * 4 * (trainer.accum > 1 ? 2 : 1);
      m.activations = Math.max(m.activations + d.activations, d.attachTemp);
    }
    return m;
  },
  async attach(model, cfg: ConfigOf<typeof LORA_SCHEMA>, opts) {
    return withOptimizer(model, await initLora(model, cfg, opts.seed), opts);
  },
  async importFiles(model, files, opts) {
    return withOptimizer(model, await readPeft(model, files, { dora: true }), opts);
  },
});
