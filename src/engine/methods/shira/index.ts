// `shira`: Sparse High Rank Adapters (Bhardwaj et al. 2024). Trains K chosen entries of each
// target weight (a fraction, a count, or PEFT's r·(in + out)), chosen by a seeded random
// mask, the largest |w|, or the largest |∂L/∂w| of one backward on the first batch. Only
// those entries get gradients (sddmm, no dense dW) and optimizer state; every other entry
// stays bit-identical. The weight is trained in place (W[idx] = W0[idx] + Δ), so merging is
// exact and the forward costs nothing extra. Exports a Hugging Face PEFT SHiRA adapter.

import { sizeClass } from '../../gpu/arena.ts';
import { sparseGather } from '../../kernels/sparse.ts';
import { zeroByCategory, type ByCategory } from '../../gpu/ledger.ts';
import type { ModelSpec } from '../../model/config.ts';
import type { CausalLM } from '../../model/load.ts';
import { activationBytes, frozenGradScratch, weightBytes } from '../../model/memory.ts';
import { Optimizer, optimizerBytes } from '../../optim/optimizer.ts';
import { FirstOrderState } from '../state.ts';
import { registerMethod } from '../registry.ts';
import { label } from './label.ts';
import { presets } from './presets.ts';
import { scaleOut } from './recipe.ts';
import { shiraHostEdits } from './merge-host.ts';
import { ConfigError, type ConfigOf } from '../../config/schema.ts';
import type { AttachOptions, Batch, ExportFile, MethodDef, RunShape, StepContext, StepResult } from '../types.ts';
import { attachShira, type ShiraSet } from './adapter.ts';
import { buildMasks, entriesOf, shiraLinears, type MaskType } from './mask.ts';
import { readShiraPeft, writeShiraPeft } from './peft.ts';

export const SHIRA_SCHEMA = {
  fraction: { kind: 'number', default: 0.01, min: 0, minExclusive: true, max: 1, log: true, help: 'Fraction of each target weight\'s entries to train: K = max(1, round(fraction·out·in)).' },
  count: { kind: 'number', default: 0, min: 0, integer: true, help: 'Entries to train per target weight (overrides --fraction; 0 = use --fraction).' },
  rank: { kind: 'number', default: 0, min: 0, integer: true, help: 'PEFT\'s sizing: K = r·(in + out) per target, as many values as a rank-r LoRA (overrides --count and --fraction; 0 = unused). Exports with this load in PEFT as they are.' },
  mask: { kind: 'enum', default: 'random', options: ['random', 'weight', 'grad'], help: 'Which entries: seeded random (PEFT\'s default), the largest |w| per matrix, or the largest |∂L/∂w| of one backward on the first batch.' },
  targets: { kind: 'list', default: [], help: 'Module names to adapt (q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj; GPT-2: c_attn, c_proj, c_fc), or all-linear. Empty: every attention and MLP projection (all-linear).' },
} as const;
type ShiraConfig = ConfigOf<typeof SHIRA_SCHEMA>;

/** K of every target layer, checked: f32 base, known targets, sizes within each layer. */
export function shiraSizes(spec: ModelSpec, cfg: ShiraConfig, shape: Pick<RunShape, 'precision'>) {
  if (shape.precision !== 'f32') throw new ConfigError(`shira trains entries of the f32 weights; a ${shape.precision} base has none (use --quant f32, or lora for a quantized base)`);
  if (!(cfg.fraction > 0 && cfg.fraction <= 1)) throw new ConfigError(`--fraction should be in (0, 1], got ${cfg.fraction}`);
  if (!(Number.isInteger(cfg.count) && cfg.count >= 0)) throw new ConfigError(`--count should be a whole number ≥ 0, got ${cfg.count}`);
  if (!(Number.isInteger(cfg.rank) && cfg.rank >= 0)) throw new ConfigError(`--rank should be a whole number ≥ 0, got ${cfg.rank}`);
  if (!SHIRA_SCHEMA.mask.options.includes(cfg.mask)) throw new ConfigError(`--mask should be one of ${SHIRA_SCHEMA.mask.options.join(', ')}, got ${JSON.stringify(cfg.mask)}`);
  return shiraLinears(spec, cfg.targets).map((l) => ({ ...l, k: entriesOf(l, cfg) }));
}

class ShiraState extends FirstOrderState {
  readonly exportFormats = ['peft'] as const;
  readonly modifiesBase = false; // dispose() puts W0 back bit for bit

  constructor(
    model: CausalLM,
    private readonly set: ShiraSet,
    opt: Optimizer,
    private readonly baseModel: string,
  ) {
    super(model, opt);
  }

  override async step(batches: readonly Batch[], ctx: StepContext): Promise<StepResult> {
    const r = await super.step(batches, ctx);
    this.set.apply(this.model);
    await this.model.gpu.flush();
    return r;
  }

  async exportFiles(format = 'peft'): Promise<ExportFile[]> {
    if (format !== 'peft') throw new ConfigError(`shira exports ${this.exportFormats.join(', ')}, not "${format}"`);
    return writeShiraPeft(this.model, this.set, this.baseModel);
  }

  async merge(): Promise<void> {
    this.set.merge(this.model);
    await this.model.gpu.flush();
  }

  override async saveState(): Promise<Map<string, Float32Array>> {
    const g = this.model.gpu;
    const out = new Map<string, Float32Array>();
    for (const a of this.set.adapters) {
      out.set(a.name, await g.readF32(a.delta, a.k));
      // The mask as the bits of u32 indices (a grad mask depends on the first batch).
      out.set(`${a.layer.name}.shira_indices`, new Float32Array((await g.readU32(a.idx, a.k)).buffer));
    }
    await this.opt.save(out);
    return out;
  }

  override async loadState(state: ReadonlyMap<string, Float32Array>): Promise<void> {
    const g = this.model.gpu;
    for (const a of this.set.adapters) {
      const d = state.get(a.name);
      const i = state.get(`${a.layer.name}.shira_indices`);
      if (!d || d.length !== a.k || !i || i.length !== a.k) throw new Error(`checkpoint: "${a.name}" or its indices are missing or not ${a.k} values`);
      a.restore(this.model); // W back to W0 at the old mask, then the checkpoint's mask
      g.write(a.idx, new Uint32Array(i.buffer, i.byteOffset, i.length));
      sparseGather(g, a.idx, a.layer.w.buf, a.base, a.k);
      g.write(a.delta, d);
    }
    this.set.apply(this.model);
    this.opt.load(state);
    await g.flush();
  }

  override dispose(): void {
    this.set.detach(this.model);
    super.dispose();
  }
}

async function withOptimizer(model: CausalLM, set: ShiraSet, opts: AttachOptions): Promise<ShiraState> {
  try {
    return new ShiraState(model, set, await Optimizer.create(model.gpu, model.gpu.arena, set.params(), opts.trainer), opts.baseModel ?? '');
  } catch (e) {
    set.detach(model);
    throw e;
  }
}

function estimate(spec: ModelSpec, cfg: ShiraConfig, shape: RunShape, trainer: AttachOptions['trainer']): ByCategory {
  const sizes = shiraSizes(spec, cfg, shape);
  const K = sizes.reduce((a, l) => a + l.k, 0);
  const m = zeroByCategory();
  m.weights = weightBytes(spec, shape.precision);
  m.adapter = 3 * 4 * K; // idx, base, delta
  m.gradients = K * 4 * (trainer.accum > 1 ? 2 : 1);
  m.optimizer = optimizerBytes(K, trainer);
  m.activations = activationBytes(spec, shape.B, shape.T, true);
  m.scratch = frozenGradScratch(spec, shape.B, shape.T);
  if (cfg.mask !== 'grad') return m;
  // The grad mask's probe at attach: a training pass before any adapter state exists, with
  // one layer's dense dW in scratch and its readback at a time. Both are pooled by size class
  // (the pass's pool and the device's readback pool) until the pass ends: one of each class.
  const probe = zeroByCategory();
  probe.weights = m.weights;
  probe.activations = m.activations;
  probe.scratch = m.scratch + 2 * [...new Set(sizes.map((l) => sizeClass(l.out * l.in * 4)))].reduce((a, x) => a + x, 0);
  const total = (b: ByCategory) => Object.values(b).reduce((a, x) => a + x, 0);
  return total(probe) > total(m) ? probe : m;
}

export const shira: MethodDef<typeof SHIRA_SCHEMA> = registerMethod({
  name: 'shira',
  presets,
  format: { peftType: 'SHIRA', hostEdits: shiraHostEdits },
  offers: () => ['merged', 'lora', 'recipe'],
  label,
  scaleOut,
  family: 'first-order',
  title: 'SHiRA: train a sparse set of each weight\'s entries (high rank, exact merge)',
  help: 'Sparse High Rank Adapters (Bhardwaj et al. 2024): trains only K entries of each target weight (by default 1 %), chosen at random, by magnitude, or by the gradient at initialisation. Only those entries get gradients and AdamW state; everything else stays bit-identical, and merging is exact. Needs an f32 base. Exports a Hugging Face PEFT SHiRA adapter.',
  schema: SHIRA_SCHEMA,
  trainerDefaults: { lr: 1e-3 },
  check: (spec, cfg, shape) => void shiraSizes(spec, cfg, shape),
  estimateMemory: estimate,
  async attach(model, cfg: ShiraConfig, opts) {
    const sizes = shiraSizes(model.spec, cfg, opts.shape);
    const byName = new Map(sizes.map((s) => [s.name, s.k]));
    const kinds = new Set(sizes.map((s) => s.kind));
    const layers = [...model.linears.values()].filter((l) => kinds.has(l.name.slice(l.name.lastIndexOf('.') + 1)));
    const quant = layers.find((l) => l.w.kind !== 'f32');
    if (quant) throw new ConfigError(`shira trains entries of f32 weights; ${quant.name} is quantized (load the base with --quant f32)`);
    const ks = layers.map((l) => byName.get(l.name) ?? entriesOf(l, cfg));
    const masks = await buildMasks(model, layers, ks, cfg.mask as MaskType, opts.seed, opts.firstBatch);
    model.gpu.arena.trim(); // the mask's host readbacks are not kept pooled for the run
    return withOptimizer(model, await attachShira(model, layers, masks, cfg.mask, opts.seed), opts);
  },
  async importFiles(model, files, opts) {
    return withOptimizer(model, await readShiraPeft(model, files), opts);
  },
});
