// `mezo`: zeroth-order SGD in place (Malladi et al. 2023, Algorithm 1). Per step and
// sample: θ += ε·z, forward; θ −= 2ε·z, forward; θ += ε·z (restored); the projected
// gradient g = (L₊ − L₋) / 2ε; then θ −= lr·g·z. z is Philox noise regenerated from the
// sample's seed each time and never stored, so the peak memory is that of inference.
// Trainable set: every f32 weight, or LoRA adapters on a frozen (possibly quantized) base
// (ZO-LoRA).

import { sizeClass, type GpuBuf } from '../../gpu/arena.ts';
import { zeroByCategory } from '../../gpu/ledger.ts';
import { scale } from '../../kernels/elementwise.ts';
import { perturb } from '../../kernels/rng.ts';
import type { CausalLM } from '../../model/load.ts';
import { activationBytes, weightBytes } from '../../model/memory.ts';
import { registerMethod } from '../registry.ts';
import { readTensors, writeTensors } from '../state.ts';
import { spsaStep } from '../zeroth-order.ts';
import { ConfigError, defaults, type ConfigOf } from '../../config/schema.ts';
import type { TrainedTensor, AttachOptions, Batch, ExportFile, MethodDef, StepContext, StepResult, Trainable } from '../types.ts';
import { exportWeights, importWeights } from '../weights.ts';
import { checkLora, type LoraSet, type LoraShape } from '../lora/adapter.ts';
import { initLora, loraSize } from '../lora/index.ts';
import { readPeft, writePeft } from '../lora/peft.ts';
import { label } from './label.ts';
import { presets } from './presets.ts';
import { scaleOut } from './recipe.ts';

export const MEZO_SCHEMA = {
  eps: { kind: 'number', default: 1e-3, min: 0, minExclusive: true, log: true, help: 'Perturbation scale ε of the two-sided difference (L(θ+εz) − L(θ−εz)) / 2ε.' },
  samples: { kind: 'number', default: 1, min: 1, max: 64, integer: true, help: 'Random directions z per step (n-SPSA); their updates are averaged.' },
  trainable: { kind: 'enum', default: 'all', options: ['all', 'lora'], help: 'Perturb every f32 weight, or only LoRA adapters on a frozen base (ZO-LoRA; the base may be quantized).' },
  rank: { kind: 'number', default: 8, min: 1, integer: true, help: 'ZO-LoRA only: adapter rank.' },
  alpha: { kind: 'number', default: 16, min: 0, minExclusive: true, help: 'ZO-LoRA only: adapter scaling numerator.' },
  targets: { kind: 'list', default: [], help: 'ZO-LoRA only: module names to adapt (empty: the architecture\'s default).' },
} as const;
type MezoConfig = ConfigOf<typeof MEZO_SCHEMA>;
const MEZO_DEFAULTS: MezoConfig = defaults(MEZO_SCHEMA);

const loraShape = (c: MezoConfig): LoraShape => ({ rank: c.rank, alpha: c.alpha, targets: c.targets, rslora: false });

interface ZoParam {
  name: string;
  buf: GpuBuf;
  n: number;
}

class MezoState implements Trainable {
  readonly exportFormats: readonly string[];
  readonly modifiesBase: boolean;

  constructor(
    private readonly model: CausalLM,
    private readonly cfg: MezoConfig,
    private readonly params: readonly ZoParam[],
    private readonly seed: number,
    private readonly lora: LoraSet | undefined,
    private readonly baseModel: string,
  ) {
    this.exportFormats = lora ? ['peft'] : ['safetensors'];
    this.modifiesBase = !lora;
  }

  tensors(): readonly TrainedTensor[] {
    return this.params;
  }

  get trainableParams(): number {
    return this.params.reduce((a, p) => a + p.n, 0);
  }

  /** θ += c·z(seed) over every trainable tensor (tensor i uses Philox stream i). */
  private shift(seed: number, c: number): void {
    for (const [i, p] of this.params.entries()) perturb(this.model.gpu, p.buf, p.n, seed, 0, c, i);
  }

  step(batches: readonly Batch[], ctx: StepContext): Promise<StepResult> {
    return spsaStep(this.model, batches, ctx, {
      eps: this.cfg.eps, samples: this.cfg.samples, seed: this.seed,
      shift: (seed, c) => this.shift(seed, c),
      decay: (f) => {
        for (const p of this.params) scale(this.model.gpu, p.buf, p.n, 1 - f);
      },
    });
  }

  async exportFiles(format = this.exportFormats[0]): Promise<ExportFile[]> {
    if (!this.exportFormats.includes(format)) throw new ConfigError(`mezo (${this.cfg.trainable}) exports ${this.exportFormats.join(', ')}, not "${format}"`);
    return this.lora ? writePeft(this.model, this.lora, this.baseModel) : [await exportWeights(this.model)];
  }

  async merge(): Promise<void> {
    await this.lora?.merge(this.model);
  }

  saveState(): Promise<Map<string, Float32Array>> {
    return readTensors(this.model.gpu, this.params);
  }

  async loadState(state: ReadonlyMap<string, Float32Array>): Promise<void> {
    writeTensors(this.model.gpu, this.params, state);
  }

  dispose(): void {
    this.lora?.detach();
  }
}

function check(cfg: MezoConfig, precision: string, spec: Parameters<typeof checkLora>[0]): void {
  if (cfg.trainable === 'all' && precision !== 'f32') {
    throw new ConfigError(`mezo --trainable all perturbs f32 weights; a ${precision} base has none to perturb (use --trainable lora for ZO-LoRA, or qzo to train the quantization scales)`);
  }
  if (cfg.trainable === 'lora') checkLora(spec, loraShape(cfg));
}

function state(model: CausalLM, cfg: MezoConfig, opts: AttachOptions, lora: LoraSet | undefined): MezoState {
  const params: ZoParam[] = lora ? lora.params() : [...model.params].map(([name, buf]) => ({ name, buf, n: buf.size / 4 }));
  return new MezoState(model, cfg, params, opts.seed, lora, opts.baseModel ?? '');
}

export const mezo: MethodDef<typeof MEZO_SCHEMA> = registerMethod({
  name: 'mezo',
  presets,
  // ZO-LoRA writes lora's PEFT LORA format, all weights full's model.safetensors.
  offers: (cfg) => (cfg.trainable === 'lora' ? ['merged', 'gguf', 'squeeze', 'recipe'] : ['merged', 'lora', 'recipe']),
  label,
  scaleOut,
  family: 'zeroth-order',
  title: 'MeZO: zeroth-order SGD with inference-sized memory',
  help: 'Estimates the gradient from two forward passes at θ ± εz along a random direction z regenerated from a seed, and updates in place (Malladi et al. 2023). No gradients, no optimizer state, no saved activations: the peak memory is that of inference. Needs many more steps than first-order methods; use a small learning rate (1e-6 to 1e-4 for full weights).',
  schema: MEZO_SCHEMA,
  trainerDefaults: { lr: 1e-4, optimizer: 'sgd', maxGradNorm: 0 },
  check: (spec, cfg, shape) => check(cfg, shape.precision, spec),
  fitToBase(_spec, cfg, shape) {
    if (cfg.trainable !== 'all' || shape.precision === 'f32') return undefined;
    return { config: { ...cfg, trainable: 'lora' }, note: `ZO-LoRA: a ${shape.precision} base has no f32 weights to perturb, so MeZO perturbs rank-${cfg.rank} LoRA adapters` };
  },
  estimateMemory(spec, cfg, shape) {
    const m = zeroByCategory();
    m.weights = weightBytes(spec, shape.precision);
    const lora = cfg.trainable === 'lora' ? loraSize(spec, loraShape(cfg)) : undefined;
    m.adapter = (lora?.params ?? 0) * 4;
    m.activations = activationBytes(spec, shape.B, shape.T, false, lora?.rankPerToken ?? 0);
    m.scratch = sizeClass(shape.B * shape.T * 4);
    return m;
  },
  async attach(model, cfg, opts) {
    check(cfg, opts.shape.precision, model.spec);
    return state(model, cfg, opts, cfg.trainable === 'lora' ? await initLora(model, loraShape(cfg), opts.seed) : undefined);
  },
  async importFiles(model, files, opts) {
    if (files.some((f) => f.name === 'adapter_config.json')) {
      const set = await readPeft(model, files);
      const cfg: MezoConfig = { ...MEZO_DEFAULTS, trainable: 'lora', rank: set.cfg.rank, alpha: set.cfg.alpha, targets: set.cfg.targets };
      return state(model, cfg, opts, set);
    }
    await importWeights(model, files);
    return state(model, MEZO_DEFAULTS, opts, undefined);
  },
});
