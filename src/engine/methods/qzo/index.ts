// `qzo`: zeroth-order training of the block scales of a quantized base (Shang et al. 2025,
// "Fine-tuning Quantized Neural Networks with Zeroth-order Optimization"). A q8 / q4 / nf4
// weight is w = Δ_s · c (c: the block's frozen code values, Δ_s: its scale); the codes never
// change, only the scales Δ are trained. Per step and sample j (seed s_j = sampleSeed, methods/zeroth-order.ts):
//   L₊ = L(Δ + εz), L₋ = L(Δ − εz), then Δ restored;  g = (L₊ − L₋) / 2ε
//   g' = clip(g, −C, C)  (directional-derivative clipping, --clip; 0 = off)
//   Δ ← Δ − lr·g'·z / samples, then projected onto its starting side of 0
// z is Philox noise over the layer's blocks (layer i: stream i), regenerated, never stored.
// Units: scales differ by orders of magnitude between formats (q8 ≈ absmax / 127, nf4 =
// absmax) and layers, and f16 keeps 11 bits, so one absolute ε is too small to survive the
// f16 rounding on one layer and too large on another. Each layer's noise is therefore
// scaled by its unit u = mean |Δ| at attach: Δ ± ε·u·z and Δ −= lr·g'·u·z. This is QZO
// exactly on the rescaled scales Δ / u (ε and lr are relative); u is recomputed from the
// base's own scales on import, so it needs no export.
//
// Scale precision. qmatmul reads f16 scales packed two per u32 (quant/block.ts). Perturbing
// f16 in place would round every ±εz and never come back exactly, so the trained state is
// an f32 master copy Δ of every trained layer's scales (ledger 'adapter', 4 bytes per block
// of 32 weights, i.e. 1 bit per weight) from which the f16 words are always re-derived by
// qscale.wgsl `pack_f16` (round to nearest even, bit-identical to the host):
//   +ε: scratch = Δ; scratch += εz; words = f16(scratch)
//   −ε: scratch = Δ; scratch −= εz; words = f16(scratch)
//   restore: words = f16(Δ)  — exactly the words before the step, Δ never moved
//   update: Δ += −lr·g'·z; project; words = f16(Δ)
// The scratch is one pooled buffer the size of the largest layer's scales. The projection
// is QZO's max(Δ, 0) generalised to our q4 scales, whose sign the quantizer picks (the
// larger side of the block gets level −8): a bitmask of the starting signs (1 bit per block,
// 'adapter') keeps each scale on its own side of 0 (qscale.wgsl `project_sign`).
// Weight decay is not applied to scales (it would shrink the weights towards 0).
//
// Export: `qzo_scales.safetensors`, the masters as F32 tensors `<module>.weight.scales` of
// shape (out, ceil(in / 32)) — block b of row o scales input columns 32b .. 32b+31 of the
// (out, in) weight (GPT-2's Conv1D weights are transposed to (out, in) before quantizing)
// — and `qzo_config.json` saying so. An import quantizes nothing itself: it re-applies the
// scales to a base loaded with the same --quant, giving the same f16 words, so the same
// logits. merge() is a no-op: the scales are the model (an f32 merge would be dequantize).

import { sizeClass, type GpuBuf } from '../../gpu/arena.ts';
import { zeroByCategory } from '../../gpu/ledger.ts';
import { packScalesF16, projectScaleSign } from '../../kernels/qscale.ts';
import type { GpuQuantTensor } from '../../kernels/quant.ts';
import { perturb } from '../../kernels/rng.ts';
import { bytesSource } from '../../io/bytes.ts';
import { SafetensorsFile, writeSafetensors } from '../../io/safetensors.ts';
import type { ModelSpec } from '../../model/config.ts';
import type { Linear } from '../../model/decoder.ts';
import type { CausalLM } from '../../model/load.ts';
import { activationBytes, weightBytes } from '../../model/memory.ts';
import { blocksPerRow, f16ToF32, QBLOCK } from '../../quant/block.ts';
import { meanLoss, sampleSeed } from '../zeroth-order.ts';
import { registerMethod } from '../registry.ts';
import { label } from './label.ts';
import { presets } from './presets.ts';
import { scaleOut } from './recipe.ts';
import { ConfigError, defaults, type ConfigOf } from '../../config/schema.ts';
import { selectLinears } from '../targets.ts';
import type { AttachOptions, Batch, ExportFile, MethodDef, RunShape, StepContext, StepResult, TrainedTensor, Trainable } from '../types.ts';

export const QZO_SCHEMA = {
  eps: { kind: 'number', default: 1e-2, min: 0, minExclusive: true, log: true, help: 'Perturbation ε of the scales, relative to each layer\'s mean |scale|: (L(Δ+εuz) − L(Δ−εuz)) / 2ε.' },
  samples: { kind: 'number', default: 1, min: 1, max: 64, integer: true, help: 'Random directions z per step; their updates are averaged.' },
  clip: { kind: 'number', default: 100, min: 0, help: 'Directional-derivative clipping: the projected gradient is clipped to [−clip, clip] before the update (0 = no clipping).' },
  targets: { kind: 'list', default: ['all-linear'], help: 'Quantized module names whose scales are trained (q_proj, …, or all-linear).' },
} as const;
type QzoConfig = ConfigOf<typeof QZO_SCHEMA>;
const QZO_DEFAULTS: QzoConfig = defaults(QZO_SCHEMA);

export const SCALES_FILE = 'qzo_scales.safetensors';
export const CONFIG_FILE = 'qzo_config.json';

/** Scales of an (out, in) quantized weight. */
const blockCount = (out: number, inp: number) => out * blocksPerRow(inp);
const bytes4 = (n: number) => 4 * Math.max(1, n);

/** Sign bits (bit 15 of each f16) of n scales held two per word, packed 32 per u32. */
export function scaleSignBits(words: ArrayLike<number>, n: number): Uint32Array {
  const out = new Uint32Array(Math.ceil(n / 32));
  for (let i = 0; i < n; i++) if ((words[i >> 1] >>> (16 * (i & 1))) & 0x8000) out[i >> 5] |= 1 << (i & 31);
  return out;
}

/** The f32 values of n f16 scales held two per word. */
export function unpackScales(words: ArrayLike<number>, n: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => f16ToF32((words[i >> 1] >>> (16 * (i & 1))) & 0xffff));
}

interface ScaleParam {
  /** `<module>.weight.scales` */
  name: string;
  layer: Linear;
  q: GpuQuantTensor;
  /** Blocks (= scales). */
  n: number;
  /** (n) f32 master copy: the trained state. */
  buf: GpuBuf;
  /** (ceil(n / 32)) u32: bit i set when scale i started negative. */
  signs: GpuBuf;
  /** Mean |Δ| of the base's scales: the layer's noise unit. */
  unit: number;
}


class QzoState implements Trainable {
  readonly exportFormats = ['safetensors'] as const;

  constructor(
    private readonly model: CausalLM,
    private readonly cfg: QzoConfig,
    private readonly params: readonly ScaleParam[],
    private readonly seed: number,
    private readonly baseModel: string,
  ) {}

  tensors(): readonly TrainedTensor[] {
    return this.params;
  }

  get trainableParams(): number {
    return this.params.reduce((a, p) => a + p.n, 0);
  }

  /** words = f16(Δ + c·z(seed)) for every layer, Δ untouched (c = 0: words = f16(Δ)). */
  private async shifted(seed: number, c: number): Promise<void> {
    const g = this.model.gpu;
    if (c === 0) {
      for (const p of this.params) packScalesF16(g, p.buf, p.q.scales, p.n);
      return;
    }
    const scratch = await g.arena.scratch(4 * Math.max(...this.params.map((p) => p.n)), 'qzo perturbed scales');
    try {
      for (const [i, p] of this.params.entries()) {
        g.copy(p.buf, scratch, 4 * p.n);
        perturb(g, scratch, p.n, seed, 0, c * p.unit, i);
        packScalesF16(g, scratch, p.q.scales, p.n);
      }
      g.submit(); // recorded before the scratch goes back to the pool
    } finally {
      scratch.release();
    }
  }

  async step(batches: readonly Batch[], ctx: StepContext): Promise<StepResult> {
    const { eps, samples, clip } = this.cfg;
    const g = this.model.gpu;
    const grads: number[] = [];
    let loss = 0;
    for (let j = 0; j < samples; j++) {
      const s = sampleSeed(this.seed, ctx.step, j);
      await this.shifted(s, eps);
      const lp = await meanLoss(this.model, batches);
      await this.shifted(s, -eps);
      const lm = await meanLoss(this.model, batches);
      grads.push((lp - lm) / (2 * eps));
      loss += (lp + lm) / 2 / samples;
    }
    if (!grads.every(Number.isFinite)) {
      await this.shifted(0, 0);
      await g.flush();
      return { loss: Number.NaN, gradNorm: Number.NaN };
    }
    for (let j = 0; j < samples; j++) {
      const gj = clip > 0 ? Math.min(clip, Math.max(-clip, grads[j])) : grads[j];
      for (const [i, p] of this.params.entries()) perturb(g, p.buf, p.n, sampleSeed(this.seed, ctx.step, j), 0, (-ctx.lr * gj * p.unit) / samples, i);
    }
    for (const p of this.params) projectScaleSign(g, p.signs, p.buf, p.n);
    await this.shifted(0, 0);
    await g.flush();
    return { loss, gradNorm: Math.abs(grads.reduce((a, x) => a + x, 0) / samples) };
  }

  async exportFiles(format = 'safetensors'): Promise<ExportFile[]> {
    if (format !== 'safetensors') throw new ConfigError(`qzo exports safetensors (trained scales), not "${format}"`);
    const g = this.model.gpu;
    const tensors = [];
    for (const p of this.params) tensors.push({ name: p.name, dtype: 'F32' as const, shape: [p.layer.out, blocksPerRow(p.layer.in)], data: await g.readF32(p.buf, p.n) });
    const format_ = this.params[0]?.q.format;
    const config = {
      method: 'qzo',
      base_model_name_or_path: this.baseModel,
      quant_format: format_,
      block_size: QBLOCK,
      scale_dtype: 'F32',
      scale_layout: '(out, ceil(in / 32)): block b of row o scales input columns 32b .. 32b+31 of the (out, in) weight; GPT-2 Conv1D weights are transposed to (out, in) before quantizing',
      dequantize: { q8: 'w = scale * int8(code)', q4: 'w = scale * (code - 8)', nf4: 'w = scale * NF4[code]' }[format_ ?? 'q8'],
      quantizer: 'webtune block quantization (src/engine/quant/block.ts); load the base with the same --quant, then apply these scales',
      modules: this.params.map((p) => p.layer.name),
      eps_relative: this.cfg.eps,
      clip: this.cfg.clip,
    };
    return [
      { name: SCALES_FILE, bytes: writeSafetensors(tensors, { format: 'pt', method: 'qzo', quant_format: format_ ?? '' }) },
      { name: CONFIG_FILE, bytes: new TextEncoder().encode(JSON.stringify(config, null, 2)) },
    ];
  }

  async merge(): Promise<void> {} // the trained scales are already the model's own

  async saveState(): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    for (const p of this.params) out.set(p.name, await this.model.gpu.readF32(p.buf, p.n));
    return out;
  }

  async loadState(state: ReadonlyMap<string, Float32Array>): Promise<void> {
    for (const p of this.params) {
      const v = state.get(p.name);
      if (!v || v.length !== p.n) throw new Error(`checkpoint: "${p.name}" is missing or not ${p.n} values`);
      this.model.gpu.write(p.buf, v);
    }
    await this.shifted(0, 0);
    await this.model.gpu.flush();
  }

  /** Frees the masters; the trained scales stay in the model (as mezo leaves its weights). */
  dispose(): void {
    for (const p of this.params) {
      p.buf.release();
      p.signs.release();
    }
  }
}

function checkPrecision(precision: RunShape['precision']): void {
  if (precision === 'f32') throw new ConfigError('qzo trains the scales of a quantized base: load it with --quant q8, q4 or nf4 (for an f32 base use mezo or sparse-mezo)');
}

function check(spec: ModelSpec, cfg: QzoConfig, shape: RunShape) {
  checkPrecision(shape.precision);
  return selectLinears(spec, cfg.targets);
}

/** Masters and sign bits for `layers`, from their current f16 scales (or from `values`). */
async function build(model: CausalLM, layers: readonly Linear[], cfg: QzoConfig, opts: AttachOptions, values?: ReadonlyMap<string, Float32Array>): Promise<QzoState> {
  const g = model.gpu;
  const params: ScaleParam[] = [];
  try {
    for (const layer of layers) {
      if (layer.w.kind !== 'quant') throw new ConfigError(`qzo: ${layer.name} is not quantized (load the base with --quant q8, q4 or nf4)`);
      const q = layer.w.q;
      const n = blockCount(q.N, q.K);
      const name = `${layer.name}.weight.scales`;
      const words = await g.readU32(q.scales);
      const own = unpackScales(words, n);
      const start = values?.get(name) ?? own;
      const unit = own.reduce((a, v) => a + Math.abs(v), 0) / n || 1;
      if (start.length !== n) throw new ConfigError(`${SCALES_FILE}: "${name}" has ${start.length} scales, ${layer.name} has ${n} blocks`);
      const signs = await g.upload('adapter', scaleSignBits(words, n), `${name}.signs`);
      let buf: GpuBuf;
      try {
        buf = await g.upload('adapter', start, name);
      } catch (e) {
        signs.release();
        throw e;
      }
      params.push({ name, layer, q, n, buf, signs, unit });
    }
  } catch (e) {
    for (const p of params) {
      p.buf.release();
      p.signs.release();
    }
    throw e;
  } finally {
    g.arena.trim(); // drop the readback buffers pooled above: the run's peak is that of inference
  }
  const state = new QzoState(model, cfg, params, opts.seed, opts.baseModel ?? '');
  if (values) await state.loadState(new Map(params.map((p) => [p.name, values.get(p.name)!])));
  return state;
}

/** The model's linear layers of the kinds cfg.targets selects (by kind, as attachLora: a
 *  checkpoint may prefix its module names, GPT-2's `transformer.`). */
function layersOf(model: CausalLM, cfg: QzoConfig): Linear[] {
  const kinds = new Set(selectLinears(model.spec, cfg.targets).map((l) => l.kind));
  const layers = [...model.linears.values()].filter((l) => kinds.has(l.name.slice(l.name.lastIndexOf('.') + 1)));
  if (!layers.length) throw new ConfigError(`qzo: --targets ${cfg.targets.join(',')} selects no layer of this model`);
  return layers;
}

export const qzo: MethodDef<typeof QZO_SCHEMA> = registerMethod({
  name: 'qzo',
  presets,
  format: {
    marker: 'qzo_scales.safetensors',
    noMerge: 'a qzo run trains the block scales of the quantized base and has no f32 ΔW to fold in; load the base with the same --quant and import the scales',
  },
  offers: () => ['recipe'],
  label,
  scaleOut,
  family: 'zeroth-order',
  title: 'QZO: zeroth-order training of a quantized base\'s scales',
  help: 'Trains only the per-block scales of a q8 / q4 / nf4 base with two forward passes per random direction and directional-derivative clipping (Shang et al. 2025); the quantized codes never change. Memory: the quantized model\'s inference plus an f32 copy of the scales (1 bit per weight). Exports the scales as safetensors, applied to a base loaded with the same --quant.',
  schema: QZO_SCHEMA,
  trainerDefaults: { lr: 1e-3, optimizer: 'sgd', maxGradNorm: 0 }, // relative (see Units); tiny test models take 0.1
  check: (spec, cfg, shape) => void check(spec, cfg, shape),
  estimateMemory(spec, cfg, shape) {
    const ns = check(spec, cfg, shape).map((l) => blockCount(l.out, l.in));
    const m = zeroByCategory();
    m.weights = weightBytes(spec, shape.precision);
    m.adapter = ns.reduce((a, n) => a + bytes4(n) + bytes4(Math.ceil(n / 32)), 0);
    m.activations = activationBytes(spec, shape.B, shape.T, false);
    m.scratch = sizeClass(shape.B * shape.T * 4) + sizeClass(4 * Math.max(1, ...ns));
    return m;
  },
  async attach(model, cfg, opts) {
    check(model.spec, cfg, opts.shape);
    return build(model, layersOf(model, cfg), cfg, opts);
  },
  async importFiles(model, files, opts) {
    const cf = files.find((f) => f.name === CONFIG_FILE);
    const sf = files.find((f) => f.name === SCALES_FILE);
    if (!cf || !sf) throw new ConfigError(`a qzo export has ${SCALES_FILE} and ${CONFIG_FILE}`);
    const meta = JSON.parse(new TextDecoder().decode(cf.bytes)) as { quant_format?: unknown; modules?: unknown };
    const modules = Array.isArray(meta.modules) ? meta.modules.filter((m): m is string => typeof m === 'string') : [];
    const layers = modules.map((name) => {
      const l = model.linears.get(name);
      if (!l) throw new ConfigError(`${CONFIG_FILE}: the model has no module "${name}"`);
      if (l.w.kind !== 'quant') throw new ConfigError(`qzo scales need a quantized base: ${name} is f32 (load it with --quant ${String(meta.quant_format)})`);
      if (l.w.q.format !== meta.quant_format) throw new ConfigError(`the scales were trained on a ${String(meta.quant_format)} base; ${name} is ${l.w.q.format} (load it with --quant ${String(meta.quant_format)})`);
      return l;
    });
    if (!layers.length) throw new ConfigError(`${CONFIG_FILE} names no module`);
    const st = await SafetensorsFile.open(bytesSource(sf.bytes, SCALES_FILE));
    const values = new Map<string, Float32Array>();
    for (const l of layers) {
      const name = `${l.name}.weight.scales`;
      if (!st.tensors.has(name)) throw new ConfigError(`${SCALES_FILE} has no tensor "${name}"`);
      values.set(name, await st.readF32(name));
    }
    return build(model, layers, QZO_DEFAULTS, opts, values);
  },
});
