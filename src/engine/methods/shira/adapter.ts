// SHiRA adapters (Bhardwaj et al. 2024): ΔW is sparse, K chosen entries per target weight.
// The weight is trained in place: W[idx] = W0[idx] + Δ after every update, so the forward
// adds nothing and entries outside idx are never written (bit-identical). Backward gives
// ∂L/∂Δ = dW at idx by the sddmm kernel, never forming the dense dW. Per layer, all in the
// 'adapter' category: idx (K) u32 storage-order flat indices, base (K) = W0[idx], delta (K).

import type { GpuBuf } from '../../gpu/arena.ts';
import { sddmm } from '../../kernels/sddmm.ts';
import { buildIndexList, sparseGather, sparseScatter, sparseScatterAdd } from '../../kernels/sparse.ts';
import type { Grads, Linear, LinearAdapter, PassContext } from '../../model/decoder.ts';
import type { CausalLM } from '../../model/load.ts';
import { ConfigError } from '../../config/schema.ts';
import type { MaskType } from './mask.ts';

export class ShiraLinear implements LinearAdapter {
  constructor(
    readonly layer: Linear & { w: { kind: 'f32' } },
    readonly idx: GpuBuf, // (K) u32
    readonly base: GpuBuf, // (K) W0 at idx
    readonly delta: GpuBuf, // (K) ΔW at idx
    readonly k: number,
  ) {}

  get name(): string {
    return `${this.layer.name}.shira_weight`;
  }

  /** W already holds W0 + Δ at idx. */
  async forward(): Promise<void> {}

  async backward(ctx: PassContext, x: GpuBuf, dy: GpuBuf, _dx: GpuBuf | undefined, N: number, grads: Grads): Promise<void> {
    if (!grads.wanted(this.name)) return;
    const { out, in: inp } = this.layer;
    sddmm(ctx.gpu, this.idx, dy, x, await grads.get(this.name, this.k), { k: this.k, n: N, out, in: inp, layout: this.layer.w.layout });
  }

  /** W[idx] = base + delta (one f32 add, as a merge computes it). */
  apply(model: CausalLM): void {
    sparseScatter(model.gpu, this.idx, this.base, this.layer.w.buf, this.k);
    sparseScatterAdd(model.gpu, this.idx, this.delta, this.layer.w.buf, this.k, 1);
  }

  /** W[idx] = base: the weight as it was before the adapter. */
  restore(model: CausalLM): void {
    sparseScatter(model.gpu, this.idx, this.base, this.layer.w.buf, this.k);
  }
}

/** The run's adapters and how they were chosen (for the export's config). */
export class ShiraSet {
  private merged = false;
  constructor(
    readonly adapters: ShiraLinear[],
    private readonly buffers: GpuBuf[],
    readonly maskType: MaskType | string,
    readonly seed: number,
  ) {}

  params(): { name: string; buf: GpuBuf; n: number }[] {
    return this.adapters.map((a) => ({ name: a.name, buf: a.delta, n: a.k }));
  }

  apply(model: CausalLM): void {
    for (const a of this.adapters) a.apply(model);
  }

  /** The weights keep W0 + Δ; the adapters come off. */
  merge(model: CausalLM): void {
    this.apply(model);
    this.merged = true;
    this.detach(model);
  }

  /** Take the adapters off (the weights back to W0 unless merged) and free them. */
  detach(model: CausalLM): void {
    if (!this.buffers.length) return;
    if (!this.merged) for (const a of this.adapters) a.restore(model);
    model.gpu.submit(); // the scatters above read buffers released below
    for (const a of this.adapters) if (a.layer.adapter === a) a.layer.adapter = undefined;
    for (const b of this.buffers) b.release();
    this.buffers.length = 0;
  }
}

function f32Linear(l: Linear): Linear & { w: { kind: 'f32' } } {
  if (l.w.kind !== 'f32') throw new ConfigError(`shira trains entries of f32 weights; ${l.name} is quantized (load the base with --quant f32)`);
  return l as Linear & { w: { kind: 'f32' } }; // narrowed by the check above
}

/**
 * Adapters on `layers` at the given storage-order masks (validated: in range, unique), with
 * Δ = `deltas` (default 0), W[idx] = W0[idx] + Δ.
 */
export async function attachShira(
  model: CausalLM, layers: readonly Linear[], masks: readonly ArrayLike<number>[], maskType: MaskType | string, seed: number,
  deltas?: readonly Float32Array[],
): Promise<ShiraSet> {
  const g = model.gpu;
  const buffers: GpuBuf[] = [];
  const adapters: ShiraLinear[] = [];
  try {
    for (const [i, raw] of layers.entries()) {
      const l = f32Linear(raw);
      if (l.adapter) throw new ConfigError(`${l.name} already has an adapter (dispose the other run's state first)`);
      const list = buildIndexList(masks[i], l.out * l.in, `mask of ${l.name}`);
      const k = list.length;
      const idx = await g.upload('adapter', list, `${l.name}.shira_indices`);
      buffers.push(idx);
      const base = await g.arena.alloc('adapter', k * 4, `${l.name}.shira_base`);
      buffers.push(base);
      sparseGather(g, idx, l.w.buf, base, k);
      const delta = await g.arena.alloc('adapter', k * 4, `${l.name}.shira_weight`);
      buffers.push(delta);
      g.write(delta, deltas?.[i] ?? new Float32Array(k));
      adapters.push(new ShiraLinear(l, idx, base, delta, k));
    }
  } catch (e) {
    g.submit();
    for (const b of buffers) b.release();
    throw e;
  }
  const set = new ShiraSet(adapters, buffers, maskType, seed);
  for (const a of adapters) a.layer.adapter = a;
  if (deltas) set.apply(model);
  return set;
}
