// Decoding's kernels at one generated token on a SmolLM2-135M-shaped layer (hidden 576,
// intermediate 1536, 9/3 heads of 64, vocabulary 49152), each against the path it replaced,
// and as a fraction of the copy bandwidth measured in the same run (src/engine/bench/suite.ts
// copyBandwidth: the faster of a copy kernel and the device's buffer copy, read + written):
//   gemv / qgemv   Y (1, N) = x·Wᵀ, bytes = W (f32, or codes + scales) + x + y; beside the
//                  tuned matmul / the qmatmul tile at M = 1 (the path before)
//   attn decode    flash-decoding over Tk cached keys, bytes = the K and V rows read; beside
//                  attention.wgsl's fwd4 (a thread per head over every key)
// Quick mode: the 1536 x 576 layer and Tk = 256 only.
import type { GpuBuf } from '../../src/engine/gpu/arena.ts';
import type { Gpu } from '../../src/engine/gpu/gpu.ts';
import { copyBandwidth } from '../../src/engine/bench/suite.ts';
import { attentionDecode, attentionDecodeScratchFloats, attentionForward, decodeSplits } from '../../src/engine/kernels/attention.ts';
import { chosenGemvVariant, gemv, gemvVariants, tuneGemv } from '../../src/engine/kernels/gemv.ts';
import { chosenMatmulVariant, matmul, tuneMatmul } from '../../src/engine/kernels/matmul.ts';
import { qgemv, qmatmulForward } from '../../src/engine/kernels/qmatmul.ts';
import { allocQuant, quantizeGpu } from '../../src/engine/kernels/quant.ts';
import { QUANT_FORMATS, quantBytes } from '../../src/engine/quant/block.ts';
import { row, type BenchContext, type BenchRow } from '../harness.ts';

function fill(gpu: Gpu, b: GpuBuf, n: number, seed: number): void {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.sin(i * 0.37 + seed) * 0.5;
  gpu.write(b, a);
}

export async function bench(gpu: Gpu, ctx: BenchContext): Promise<BenchRow[]> {
  const copy = await copyBandwidth(gpu, ctx.quick ? 8 * 2 ** 20 : 32 * 2 ** 20);
  const rows: BenchRow[] = [row('copy', 'best of kernel / buffer copy', `${(copy.bytes / 2 ** 20).toFixed(0)} MiB`, copy.ms, 0, copy.bytes)];
  const of = (r: BenchRow): BenchRow => ({ ...r, ofCopy: r.gbps / copy.gbps });
  await tuneGemv(gpu, ctx.autotuner);
  await tuneMatmul(gpu, ctx.autotuner); // "before" is the matmul variant generation used: the tuned one
  const mmVariant = chosenMatmulVariant(gpu) ?? 'reg';
  const layers: [string, number, number][] = ctx.quick
    ? [['gate/up', 1536, 576]]
    : [['q/o', 576, 576], ['k/v', 192, 576], ['gate/up', 1536, 576], ['down', 576, 1536], ['lm head', 49152, 576]];
  for (const [what, N, K] of layers) {
    const arena = gpu.arena.child();
    const x = await arena.alloc('scratch', K * 4, 'x');
    const y = await arena.alloc('scratch', N * 4, 'y');
    const w = await arena.alloc('scratch', N * K * 4, 'w');
    fill(gpu, x, K, 1);
    fill(gpu, w, N * K, 2);
    const shape = `${what} M=1 N=${N} K=${K}`;
    const io = 4 * (N + K);
    for (const v of gemvVariants(gpu)) {
      const ms = await ctx.time(() => gemv(gpu, x, w, y, { layout: 'NT', M: 1, N, K }, v));
      rows.push(of(row('gemv f32', v, shape, ms, 2 * N * K, 4 * N * K + io, v === chosenGemvVariant(gpu))));
    }
    const mm = await ctx.time(() => matmul(gpu, x, w, y, { layout: 'NT', M: 1, N, K }));
    rows.push(of(row('gemv f32', `matmul ${mmVariant} (before)`, shape, mm, 2 * N * K, 4 * N * K + io)));
    for (const f of ctx.quick ? (['q4'] as const) : QUANT_FORMATS) {
      const q = await allocQuant(arena, f, N, K, `w.${f}`, 'scratch');
      quantizeGpu(gpu, w, q);
      const bytes = quantBytes(N, K, f) + io;
      const ms = await ctx.time(() => qgemv(gpu, x, q, y, 1));
      rows.push(of(row(`qgemv ${f}`, 'row', shape, ms, 2 * N * K, bytes, true)));
      const before = await ctx.time(() => qmatmulForward(gpu, x, q, y, 1));
      rows.push(of(row(`qgemv ${f}`, 'qmatmul tile (before)', shape, before, 2 * N * K, bytes)));
    }
    arena.dispose();
  }
  const [Hq, Hkv, D] = [9, 3, 64];
  for (const Tk of ctx.quick ? [256] : [256, 2048]) {
    const arena = gpu.arena.child();
    const q = await arena.alloc('scratch', Hq * D * 4, 'q');
    const o = await arena.alloc('scratch', Hq * D * 4, 'o');
    const lse = await arena.alloc('scratch', Hq * 4, 'lse');
    const k = await arena.alloc('scratch', Tk * Hkv * D * 4, 'k');
    const v = await arena.alloc('scratch', Tk * Hkv * D * 4, 'v');
    const part = await arena.alloc('scratch', attentionDecodeScratchFloats(Hq, D) * 4, 'part');
    for (const [b, seed] of [[q, 1], [k, 2], [v, 3]] as const) fill(gpu, b, b.size / 4, seed);
    const s = { B: 1, T: 1, Tk, Hq, Hkv, D };
    const bytes = 2 * Tk * Hkv * D * 4;
    const flops = 4 * Hq * D * Tk;
    const shape = `T=1 Tk=${Tk} Hq=${Hq} Hkv=${Hkv} D=${D}`;
    const ms = await ctx.time(() => attentionDecode(gpu, q, k, v, o, lse, part, s));
    rows.push(of(row('attn decode', `flash-decoding (${decodeSplits(Tk).S} splits)`, shape, ms, flops, bytes, true)));
    const before = await ctx.time(() => attentionForward(gpu, q, k, v, o, lse, s));
    rows.push(of(row('attn decode', 'fwd4 (before)', shape, before, flops, bytes)));
    arena.dispose();
  }
  return rows;
}
