// Which entries of each target weight SHiRA trains: K per layer from --rank / --count /
// --fraction, and the three masks (seeded random, largest |w|, largest |∂L/∂w| at
// initialisation). Masks are flat indices into the weight's storage order (W (out, in), or
// GPT-2 Conv1D (in, out)), sorted and unique; exports turn them into [out, in] (row, col).

import type { GpuBuf } from '../../gpu/arena.ts';
import { matmul } from '../../kernels/matmul.ts';
import { uniform } from '../../rng/philox.ts';
import type { ModelSpec } from '../../model/config.ts';
import type { Grads, Linear, LinearAdapter, PassContext } from '../../model/decoder.ts';
import type { CausalLM } from '../../model/load.ts';
import type { LinearShape } from '../../model/memory.ts';
import { ConfigError } from '../../config/schema.ts';
import { selectLinears } from '../targets.ts';
import type { Batch } from '../types.ts';

export type MaskType = 'random' | 'weight' | 'grad';

/** How many entries per layer: what SHiRA's flags say. */
export interface ShiraSize {
  /** > 0: K = rank·(in + out) per layer, as PEFT's ShiraConfig sizes it. */
  rank: number;
  /** > 0: K per layer (overrides fraction). */
  count: number;
  /** K = max(1, round(fraction·out·in)). */
  fraction: number;
  targets: readonly string[];
}

/** The target layers (default: every attention and MLP projection). */
export function shiraLinears(spec: ModelSpec, targets: readonly string[]): LinearShape[] {
  return selectLinears(spec, targets.length ? targets : ['all-linear']);
}

/** Trained entries of one layer; throws a ConfigError naming the flag when it cannot fit. */
export function entriesOf(l: { name: string; out: number; in: number }, c: ShiraSize): number {
  const n = l.out * l.in;
  if (c.rank > 0) {
    const k = c.rank * (l.in + l.out);
    if (!Number.isInteger(c.rank) || k > n) throw new ConfigError(`--rank ${c.rank} gives ${k} entries, more than ${l.name} (${l.out}×${l.in} = ${n}) has`);
    return k;
  }
  if (c.count > 0) {
    if (!Number.isInteger(c.count) || c.count > n) throw new ConfigError(`--count ${c.count} is more entries than ${l.name} (${l.out}×${l.in} = ${n}) has`);
    return c.count;
  }
  if (!(c.fraction > 0 && c.fraction <= 1)) throw new ConfigError(`--fraction should be in (0, 1], got ${c.fraction}`);
  return Math.min(n, Math.max(1, Math.round(c.fraction * n)));
}

/** K seeded-random distinct indices of [0, n), sorted (Floyd's algorithm on Philox uniforms). */
export function randomMask(n: number, k: number, seed: number, stream: number): Uint32Array {
  const chosen = new Set<number>();
  let u = 0;
  for (let j = n - k; j < n; j++) {
    const t = Math.min(j, Math.floor(uniform(seed >>> 0, u++, stream) * (j + 1)));
    chosen.add(chosen.has(t) ? j : t);
  }
  return Uint32Array.from(chosen).sort();
}

/** The K indices of the largest |v| (ties: the lower index), sorted. */
export function topKMask(v: ArrayLike<number>, k: number): Uint32Array {
  const order = Uint32Array.from({ length: v.length }, (_, i) => i);
  const mag = Float32Array.from(v, (x) => (Number.isNaN(x) ? -1 : Math.abs(x)));
  order.sort((a, b) => mag[b] - mag[a] || a - b);
  return order.slice(0, k).sort();
}

/** One backward probe per target layer: dense dW in scratch, read back, its top-K kept. */
class GradProbe implements LinearAdapter {
  mask: Uint32Array | undefined;
  constructor(
    readonly layer: Linear,
    readonly k: number,
  ) {}

  async forward(): Promise<void> {}

  async backward(ctx: PassContext, x: GpuBuf, dy: GpuBuf, _dx: GpuBuf | undefined, N: number, _grads: Grads): Promise<void> {
    const { out, in: inp } = this.layer;
    const dW = await ctx.run.scratch(out * inp * 4, `shira.probe ${this.layer.name}`); // storage order
    if (this.layer.w.layout === 'out-in') matmul(ctx.gpu, dy, x, dW, { layout: 'TN', M: out, N: inp, K: N });
    else matmul(ctx.gpu, x, dy, dW, { layout: 'TN', M: inp, N: out, K: N });
    this.mask = topKMask(await ctx.gpu.readF32(dW, out * inp), this.k);
    dW.release();
  }
}

/** Masks of the given layers (their K each), by the mask type. `batch`: for 'grad'. */
export async function buildMasks(model: CausalLM, layers: readonly Linear[], ks: readonly number[], type: MaskType, seed: number, batch?: Batch): Promise<Uint32Array[]> {
  if (type === 'random') return layers.map((l, i) => randomMask(l.out * l.in, ks[i], seed, i));
  if (type === 'weight') {
    const out: Uint32Array[] = [];
    for (const [i, l] of layers.entries()) {
      if (l.w.kind !== 'f32') throw new ConfigError(`shira needs an f32 base (--quant f32); ${l.name} is quantized`);
      out.push(topKMask(await model.gpu.readF32(l.w.buf), ks[i]));
    }
    return out;
  }
  if (!batch) throw new ConfigError('--mask grad needs the first training batch at attach (AttachOptions.firstBatch); use --mask random or weight');
  const probes = layers.map((l, i) => new GradProbe(l, ks[i]));
  for (const p of probes) {
    if (p.layer.adapter) throw new ConfigError(`${p.layer.name} already has an adapter (dispose the other run's state first)`);
    p.layer.adapter = p;
  }
  const ga = model.gpu.arena.child();
  try {
    await model.lossAndGrads(batch.ids, batch.targets, batch.mask, batch.B, batch.T, ga, () => false);
  } finally {
    ga.dispose();
    for (const p of probes) if (p.layer.adapter === p) p.layer.adapter = undefined;
  }
  return probes.map((p) => {
    if (!p.mask) throw new Error(`shira: the gradient probe on ${p.layer.name} did not run`);
    return p.mask;
  });
}
