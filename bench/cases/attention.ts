// Causal GQA attention forward and backward at a SmolLM2-135M-like head layout.
// FLOPs counted for the causal half: forward 4·B·Hq·D·T(T+1)/2 (QKᵀ and PV);
// backward 2.5x that (recomputed scores, dP, dQ, dK, dV).
import { attentionBackward, attentionForward, type AttentionShape } from '../../src/engine/kernels/attention.ts';
import type { Gpu } from '../../src/engine/gpu/gpu.ts';
import { row, type BenchContext, type BenchRow } from '../harness.ts';

export async function bench(gpu: Gpu, ctx: BenchContext): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const T of ctx.quick ? [128] : [256, 512]) {
    const s: AttentionShape = { B: 1, T, Tk: T, Hq: 9, Hkv: 3, D: 64 };
    const arena = gpu.arena.child();
    const nq = T * s.Hq * s.D;
    const nk = T * s.Hkv * s.D;
    const [q, k, v, o, dO, dq, dk, dv] = await Promise.all([nq, nk, nk, nq, nq, nq, nk, nk].map((n) => arena.alloc('scratch', n * 4, 'attn')));
    const [lse, drow] = await Promise.all([0, 1].map(() => arena.alloc('scratch', s.Hq * T * 4, 'lse')));
    const flops = 4 * s.B * s.Hq * s.D * ((T * (T + 1)) / 2);
    const shape = `B=1 T=${T} Hq=9 Hkv=3 D=64`;
    const fwd = await ctx.time(() => attentionForward(gpu, q, k, v, o, lse, s));
    rows.push(row('attention fwd', 'row-online', shape, fwd, flops, 0, true));
    if (!ctx.quick) {
      const bwd = await ctx.time(() => attentionBackward(gpu, q, k, v, o, dO, lse, drow, dq, dk, dv, s));
      rows.push(row('attention bwd', 'row-online', shape, bwd, 2.5 * flops, 0, true));
    }
    arena.dispose();
  }
  return rows;
}
