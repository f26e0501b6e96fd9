// Causal GQA attention forward and backward at a SmolLM2-135M-like head layout
// (B=1, Hq=9, Hkv=3, D=64). FLOPs counted for the causal half, c = T(T+1)/2 visible pairs
// per head: forward 4·B·Hq·D·c (QKᵀ and PV, 2 flops per multiply-add); backward 2.5x that
// (the FlashAttention convention: dV, dP, dQ, dK and half of the forward; the recomputed
// scores are not counted — counting them the passes do 3.5x the forward's work).
// Rows: 'row4' (vec4, two rows per thread; the variant a D=64 model uses) at every shape,
// and the scalar 'row' variant forward at T=256 for comparison. ctx.quick: forward at T=128.
import { attentionBackward, attentionForward, attentionVariant, type AttentionShape } from '../../src/engine/kernels/attention.ts';
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
    // Random inputs, so that the online softmax rescales as it would on real activations.
    let seed = 1;
    const rand = (n: number) => Float32Array.from({ length: n }, () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1);
    for (const [b, n] of [[q, nq], [k, nk], [v, nk], [dO, nq]] as const) gpu.write(b, rand(n));
    const flops = 4 * s.B * s.Hq * s.D * ((T * (T + 1)) / 2);
    const shape = `B=1 T=${T} Hq=9 Hkv=3 D=64`;
    const chosen = attentionVariant(s.D);
    attentionForward(gpu, q, k, v, o, lse, s, chosen); // O and LSE for the backward
    const fwd = await ctx.time(() => attentionForward(gpu, q, k, v, o, lse, s, chosen));
    rows.push(row('attention fwd', chosen, shape, fwd, flops, 0, true));
    if (!ctx.quick) {
      const bwd = await ctx.time(() => attentionBackward(gpu, q, k, v, o, dO, lse, drow, dq, dk, dv, s, chosen));
      rows.push(row('attention bwd', chosen, shape, bwd, 2.5 * flops, 0, true));
      if (T === 256) {
        const scalar = await ctx.time(() => attentionForward(gpu, q, k, v, o, lse, s, 'row'), 2);
        rows.push(row('attention fwd', 'row', shape, scalar, flops, 0, false));
      }
    }
    arena.dispose();
  }
  return rows;
}
