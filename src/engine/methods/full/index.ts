// `full`: full fine-tuning with the trainer's optimizer, the baseline the others are set
// against; optionally limited to chosen module kinds or layers. Needs an f32 base (a
// quantized weight has no gradient). Exports the whole model as safetensors in the
// checkpoint's own names.

import { zeroByCategory } from '../../gpu/ledger.ts';
import type { ModelSpec } from '../../model/config.ts';
import type { CausalLM } from '../../model/load.ts';
import { activationBytes, frozenGradScratch, weightBytes } from '../../model/memory.ts';
import { Optimizer, optimizerBytes, type TrainParam } from '../../optim/optimizer.ts';
import { FirstOrderState } from '../state.ts';
import { exportWeights, importWeights, weightHostEdits } from '../weights.ts';
import { label } from './label.ts';
import { presets } from './presets.ts';
import { scaleOut } from './recipe.ts';
import { registerMethod } from '../registry.ts';
import { ConfigError, type ConfigOf } from '../../config/schema.ts';
import type { AttachOptions, ExportFile, MethodDef, RunShape } from '../types.ts';

export const FULL_SCHEMA = {
  targets: { kind: 'list', default: [], help: 'Train only parameters whose name has one of these parts (q_proj, mlp, embed_tokens, norm, …). Empty: every parameter.' },
  layers: { kind: 'list', default: [], help: 'Train only these layer indices (comma-separated; embeddings and the final norm are then frozen). Empty: every layer.' },
} as const;
type FullConfig = ConfigOf<typeof FULL_SCHEMA>;

/** Checkpoint names of the f32 parameters of a spec (a tied head counted once). */
export function parameterNames(spec: ModelSpec, prefix = ''): { name: string; n: number }[] {
  const { hidden: C, intermediate: I, heads, kvHeads, headDim: D, vocab: V } = spec;
  const out: { name: string; n: number }[] = [];
  const add = (name: string, n: number) => out.push({ name: prefix + name, n });
  if (spec.family === 'gpt2') {
    add('wte.weight', V * C);
    add('wpe.weight', spec.maxPositions * C);
    for (let l = 0; l < spec.layers; l++) {
      const p = `h.${l}`;
      for (const n of ['ln_1', 'ln_2']) {
        add(`${p}.${n}.weight`, C);
        add(`${p}.${n}.bias`, C);
      }
      for (const [m, o, i] of [['attn.c_attn', 3 * C, C], ['attn.c_proj', C, C], ['mlp.c_fc', I, C], ['mlp.c_proj', C, I]] as const) {
        add(`${p}.${m}.weight`, o * i);
        add(`${p}.${m}.bias`, o);
      }
    }
    add('ln_f.weight', C);
    add('ln_f.bias', C);
    return out;
  }
  add('model.embed_tokens.weight', V * C);
  for (let l = 0; l < spec.layers; l++) {
    const p = `model.layers.${l}`;
    add(`${p}.input_layernorm.weight`, C);
    add(`${p}.post_attention_layernorm.weight`, C);
    for (const [m, o, i, b] of [['q', heads * D, C, spec.qkvBias], ['k', kvHeads * D, C, spec.qkvBias], ['v', kvHeads * D, C, spec.qkvBias], ['o', C, heads * D, spec.oBias]] as const) {
      add(`${p}.self_attn.${m}_proj.weight`, o * i);
      if (b) add(`${p}.self_attn.${m}_proj.bias`, o);
    }
    for (const [m, o, i] of [['gate', I, C], ['up', I, C], ['down', C, I]] as const) {
      add(`${p}.mlp.${m}_proj.weight`, o * i);
      if (spec.mlpBias) add(`${p}.mlp.${m}_proj.bias`, o);
    }
  }
  add('model.norm.weight', C);
  if (!spec.tieEmbeddings) add('lm_head.weight', V * C);
  return out;
}

function selector(cfg: FullConfig): (name: string) => boolean {
  const layers = new Set(cfg.layers);
  return (name) => {
    const parts = name.split('.');
    if (cfg.targets.length && !cfg.targets.some((t) => parts.includes(t))) return false;
    if (!layers.size) return true;
    const at = parts.findIndex((p) => p === 'layers' || p === 'h');
    return at >= 0 && layers.has(parts[at + 1]);
  };
}

function check(spec: ModelSpec, cfg: FullConfig, shape: RunShape): void {
  if (shape.precision !== 'f32') throw new ConfigError(`full fine-tuning needs an f32 base (--quant f32); a ${shape.precision} weight has no gradient (use lora for QLoRA)`);
  for (const l of cfg.layers) {
    const i = Number(l);
    if (!Number.isInteger(i) || i < 0 || i >= spec.layers) throw new ConfigError(`--layers: "${l}" is not a layer index of this ${spec.layers}-layer model`);
  }
  const names = parameterNames(spec);
  const parts = new Set(names.flatMap((p) => p.name.split('.')));
  const unknown = cfg.targets.filter((t) => !parts.has(t));
  if (unknown.length) throw new ConfigError(`--targets: ${spec.architecture} has no parameter named with ${unknown.map((u) => `"${u}"`).join(', ')}`);
  if (!names.some((p) => selector(cfg)(p.name))) throw new ConfigError('--targets / --layers select no parameter');
}

class FullState extends FirstOrderState {
  readonly exportFormats = ['safetensors'] as const;

  async exportFiles(format = 'safetensors'): Promise<ExportFile[]> {
    if (format !== 'safetensors') throw new ConfigError(`full exports ${this.exportFormats.join(', ')}, not "${format}"`);
    return [await exportWeights(this.model)];
  }

  async merge(): Promise<void> {} // the weights are trained in place
}


async function attach(model: CausalLM, cfg: FullConfig, opts: AttachOptions): Promise<FullState> {
  check(model.spec, cfg, opts.shape);
  const want = selector(cfg);
  const params: TrainParam[] = [...model.params].filter(([n]) => want(n)).map(([name, buf]) => ({ name, buf, n: buf.size / 4 }));
  return new FullState(model, await Optimizer.create(model.gpu, model.gpu.arena, params, opts.trainer));
}

export const full: MethodDef<typeof FULL_SCHEMA> = registerMethod({
  name: 'full',
  presets,
  format: { marker: 'model.safetensors', hostEdits: weightHostEdits },
  offers: () => ['merged', 'lora', 'recipe'],
  label,
  scaleOut,
  family: 'first-order',
  title: 'Full fine-tune: every weight (or a chosen subset) with the trainer\'s optimizer',
  help: 'Trains the f32 weights directly: the baseline the parameter-efficient methods are measured against. Costs a gradient and (AdamW) two moments per trained weight.',
  schema: FULL_SCHEMA,
  trainerDefaults: { lr: 1e-3 },
  check,
  estimateMemory(spec, cfg, shape, trainer) {
    const want = selector(cfg);
    const names = parameterNames(spec);
    const trained = names.filter((p) => want(p.name)).reduce((a, p) => a + p.n, 0);
    const allTrained = names.every((p) => want(p.name));
    const m = zeroByCategory();
    m.weights = weightBytes(spec, shape.precision);
    m.gradients = trained * 4 * (trainer.accum > 1 ? 2 : 1);
    m.optimizer = optimizerBytes(trained, trainer);
    m.activations = activationBytes(spec, shape.B, shape.T, true);
    m.scratch = frozenGradScratch(spec, shape.B, shape.T, allTrained ? 0 : undefined);
    return m;
  },
  attach,
  async importFiles(model, files, opts) {
    await importWeights(model, files);
    return attach(model, { targets: [], layers: [] }, opts);
  },
});
