// `sparse-mezo`: MeZO restricted to the small-magnitude entries of each weight (Sparse MeZO,
// Liu et al. 2024). Per step and sample, on the masked entries only: θ_m += ε·z, forward;
// θ_m −= 2ε·z, forward; θ_m += ε·z (restored); g = (L₊ − L₋) / 2ε; θ_m −= lr·g·z. The noise
// is Philox regenerated from `sampleSeed` (methods/zeroth-order.ts), never stored (tensor i: stream i).
//
// The mask. Per f32 tensor (every one in model.params: embeddings, norms, biases and linear
// weights alike), the k = max(1, round(fraction·n)) entries of smallest |w| (ties broken
// by lower index), chosen once at attach from the starting weights and then FIXED for the
// run: the three perturbation phases of a step and its update all use this same list. It
// is stored compactly as a sorted u32 index list per tensor (4·k bytes, ledger 'adapter';
// at the default fraction 0.25 that is 1 byte per weight, a quarter of the f32 weights)
// and applied with rng.ts `perturbIndexed`, whose noise is indexed by list position, so
// entries outside the mask are never written and stay bit-identical. No dense float mask
// exists anywhere. (The paper's threshold |w| ≤ h tested on the fly would read a perturbed
// w during the −2ε phase and could pick a different set; a fixed list cannot.) An import
// re-derives the mask from the imported weights; checkpoints (saveState) carry the lists.
// Choosing the mask reads each tensor to the host in ≤ 1 MiB windows; attach then trims the
// arena's readback pool, so the run's peak is inference + the lists (estimateMemory).
//
// Weight decay (trainer --weight-decay) decays only the masked entries (gather, scaled
// scatter-add), so the rest stay bit-identical. Export: the whole model as safetensors,
// like mezo --trainable all.

import { sizeClass, type GpuBuf } from '../../gpu/arena.ts';
import type { Gpu } from '../../gpu/gpu.ts';
import { zeroByCategory } from '../../gpu/ledger.ts';
import { perturbIndexed } from '../../kernels/rng.ts';
import { sparseGather, sparseScatterAdd } from '../../kernels/sparse.ts';
import type { CausalLM } from '../../model/load.ts';
import { activationBytes, weightBytes } from '../../model/memory.ts';
import { parameterNames } from '../full/index.ts';
import { spsaStep } from '../zeroth-order.ts';
import { registerMethod } from '../registry.ts';
import { label } from './label.ts';
import { presets } from './presets.ts';
import { scaleOut } from './recipe.ts';
import { ConfigError, defaults, type ConfigOf } from '../../config/schema.ts';
import type { AttachOptions, Batch, ExportFile, MethodDef, StepContext, StepResult, TrainedTensor, Trainable } from '../types.ts';
import { exportWeights, importWeights } from '../weights.ts';

export const SPARSE_MEZO_SCHEMA = {
  eps: { kind: 'number', default: 1e-3, min: 0, minExclusive: true, log: true, help: 'Perturbation scale ε of the two-sided difference (L(θ+εz) − L(θ−εz)) / 2ε.' },
  samples: { kind: 'number', default: 1, min: 1, max: 64, integer: true, help: 'Random directions z per step (n-SPSA); their updates are averaged.' },
  fraction: { kind: 'number', default: 0.25, min: 0, minExclusive: true, max: 1, help: 'Share of each tensor\'s entries that are perturbed and trained: its smallest-magnitude ones, chosen at attach (1 = plain MeZO).' },
} as const;
type SparseMezoConfig = ConfigOf<typeof SPARSE_MEZO_SCHEMA>;
const DEFAULTS: SparseMezoConfig = defaults(SPARSE_MEZO_SCHEMA);

/** Host reads in windows of at most this many bytes, so a readback buffer stays small. */
const READ_CHUNK = 1 << 20;

/** Entries a tensor of n values trains at `fraction`. */
export function maskCount(n: number, fraction: number): number {
  return Math.min(n, Math.max(1, Math.round(fraction * n)));
}

/** The k indices of smallest |w| (ties: lower index first), sorted ascending.  w: (n) → (k) u32 */
export function smallestMagnitude(w: ArrayLike<number>, k: number): Uint32Array {
  const a = Float32Array.from(w, (v) => Math.abs(v));
  const t = a.slice().sort()[k - 1]; // NaN sorts last
  let below = 0;
  for (const v of a) if (v < t) below++;
  let ties = k - below;
  const out = new Uint32Array(k);
  let j = 0;
  for (let i = 0; i < a.length && j < k; i++) {
    if (a[i] < t) out[j++] = i;
    else if (a[i] === t && ties > 0) {
      out[j++] = i;
      ties--;
    }
  }
  return out;
}

/** An f32 buffer back to the host in READ_CHUNK windows (the last one overlapping). */
async function readTensor(gpu: Gpu, buf: GpuBuf): Promise<Float32Array> {
  if (buf.size <= READ_CHUNK) return gpu.readF32(buf);
  const out = new Float32Array(buf.size / 4);
  for (let off = 0; off < buf.size; off += READ_CHUNK) {
    const at = Math.min(off, buf.size - READ_CHUNK);
    out.set(new Float32Array(await gpu.read(buf, READ_CHUNK, at)), at / 4);
  }
  return out;
}


interface MaskedParam {
  name: string;
  buf: GpuBuf; // (n) f32, the model's own weight
  n: number;
  idx: GpuBuf; // (k) u32, sorted, unique
  k: number;
}

const maskKey = (name: string) => `${name}#sparse-mezo.mask`;

class SparseMezoState implements Trainable {
  readonly exportFormats = ['safetensors'] as const;

  constructor(
    private readonly model: CausalLM,
    private readonly cfg: SparseMezoConfig,
    private readonly params: readonly MaskedParam[],
    private readonly seed: number,
  ) {}

  tensors(): readonly TrainedTensor[] {
    return this.params;
  }

  /** Entries trained (the masks' total size). */
  get trainableParams(): number {
    return this.params.reduce((a, p) => a + p.k, 0);
  }

  /** The mask of each tensor as a host index list (for tests and reports). */
  async masks(): Promise<Map<string, Uint32Array>> {
    const out = new Map<string, Uint32Array>();
    for (const p of this.params) out.set(p.name, await this.model.gpu.readU32(p.idx, p.k));
    return out;
  }

  /** θ[idx] += c·z(seed) over every tensor's mask (tensor i: Philox stream i). */
  private shift(seed: number, c: number): void {
    for (const [i, p] of this.params.entries()) perturbIndexed(this.model.gpu, p.idx, p.buf, p.k, seed, 0, c, i);
  }

  step(batches: readonly Batch[], ctx: StepContext): Promise<StepResult> {
    return spsaStep(this.model, batches, ctx, {
      eps: this.cfg.eps, samples: this.cfg.samples, seed: this.seed,
      shift: (seed, c) => this.shift(seed, c),
      decay: (f) => this.decay(f),
    });
  }

  /** θ[idx] −= a·θ[idx] on the masks only (coupled L2, as mezo). */
  private async decay(a: number): Promise<void> {
    const g = this.model.gpu;
    const maxK = Math.max(...this.params.map((p) => p.k));
    const vals = await g.arena.scratch(maxK * 4, 'sparse-mezo decay'); // (k)
    try {
      for (const p of this.params) {
        sparseGather(g, p.idx, p.buf, vals, p.k);
        sparseScatterAdd(g, p.idx, vals, p.buf, p.k, -a);
      }
      await g.flush();
    } finally {
      vals.release();
    }
  }

  async exportFiles(format = 'safetensors'): Promise<ExportFile[]> {
    if (format !== 'safetensors') throw new ConfigError(`sparse-mezo exports safetensors, not "${format}"`);
    return [await exportWeights(this.model)];
  }

  async merge(): Promise<void> {} // the weights are trained in place

  /** Weights, and each mask's u32 list bit-cast into a Float32Array (never computed on). */
  async saveState(): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    for (const p of this.params) {
      out.set(p.name, await readTensor(this.model.gpu, p.buf));
      out.set(maskKey(p.name), new Float32Array((await this.model.gpu.readU32(p.idx, p.k)).buffer));
    }
    return out;
  }

  async loadState(state: ReadonlyMap<string, Float32Array>): Promise<void> {
    for (const p of this.params) {
      const v = state.get(p.name);
      if (!v || v.length !== p.n) throw new Error(`checkpoint: "${p.name}" is missing or not ${p.n} values`);
      const m = state.get(maskKey(p.name));
      if (m && m.length !== p.k) throw new Error(`checkpoint: the mask of "${p.name}" has ${m.length} entries, this run ${p.k}`);
      this.model.gpu.write(p.buf, v);
      if (m) this.model.gpu.write(p.idx, new Uint32Array(m.buffer, m.byteOffset, m.length));
    }
  }

  dispose(): void {
    for (const p of this.params) p.idx.release();
  }
}

function check(cfg: SparseMezoConfig, precision: string): void {
  if (precision !== 'f32') throw new ConfigError(`sparse-mezo perturbs f32 weights; a ${precision} base has none (use --quant f32, or qzo to train a quantized base's scales)`);
  if (!(cfg.fraction > 0 && cfg.fraction <= 1)) throw new ConfigError(`--fraction should be in (0, 1], got ${cfg.fraction}`);
}

async function attach(model: CausalLM, cfg: SparseMezoConfig, opts: AttachOptions): Promise<SparseMezoState> {
  check(cfg, opts.shape.precision);
  const g = model.gpu;
  const params: MaskedParam[] = [];
  // Reading every weight back is transient memory: free the passes planned so far first, so
  // attach never stacks its readback windows on an earlier pass's planned activations.
  model.releasePlans();
  try {
    for (const [name, buf] of model.params) {
      const n = buf.size / 4;
      const k = maskCount(n, cfg.fraction);
      const idx = await g.upload('adapter', smallestMagnitude(await readTensor(g, buf), k), `${name}.sparse_mask`);
      params.push({ name, buf, n, idx, k });
    }
  } catch (e) {
    for (const p of params) p.idx.release();
    throw e;
  } finally {
    g.arena.trim(); // drop the readback windows pooled above: the run's peak is that of inference
  }
  return new SparseMezoState(model, cfg, params, opts.seed);
}

export const sparseMezo: MethodDef<typeof SPARSE_MEZO_SCHEMA> = registerMethod({
  name: 'sparse-mezo',
  presets,
  offers: () => ['merged', 'lora', 'recipe'],
  label,
  scaleOut,
  family: 'zeroth-order',
  title: 'Sparse MeZO: zeroth-order SGD on the small-magnitude weights only',
  help: 'MeZO restricted to a fixed subset of each weight tensor: its --fraction smallest-magnitude entries (Liu et al. 2024, "Sparse MeZO"), where zeroth-order noise hurts least. Same seed-regenerated noise and two forwards per direction as mezo; the mask is a u32 index list per tensor (4 bytes per trained entry), the rest of the weights stay bit-identical. Memory: inference plus the mask. f32 base only.',
  schema: SPARSE_MEZO_SCHEMA,
  trainerDefaults: { lr: 1e-4, optimizer: 'sgd', maxGradNorm: 0 },
  check: (_spec, cfg, shape) => check(cfg, shape.precision),
  estimateMemory(spec, cfg, shape, trainer) {
    const ks = parameterNames(spec).map((p) => maskCount(p.n, cfg.fraction));
    const m = zeroByCategory();
    m.weights = weightBytes(spec, shape.precision);
    m.adapter = ks.reduce((a, k) => a + 4 * k, 0);
    m.activations = activationBytes(spec, shape.B, shape.T, false);
    m.scratch = sizeClass(shape.B * shape.T * 4) + (trainer.weightDecay > 0 ? sizeClass(4 * Math.max(...ks)) : 0);
    return m;
  },
  attach,
  async importFiles(model, files, opts) {
    await importWeights(model, files);
    return attach(model, DEFAULTS, opts);
  },
});
