// Quantized base matmul (q8, q4, nf4): forward Y = X·Wqᵀ and backward-to-input dX = dY·Wq,
// with the f32 `matmul` (NT, the same linear layer in f32) at the same shapes in the same
// run for the ratio. gflops count 2·M·N·K; gbps count X + the quantized W (codes + scales)
// + Y per run (dY + W + dX for the backward). Quick mode: 512³ q4 forward only.
import type { GpuBuf } from '../../src/engine/gpu/arena.ts';
import type { Gpu } from '../../src/engine/gpu/gpu.ts';
import { matmul } from '../../src/engine/kernels/matmul.ts';
import { qmatmulBackward, qmatmulForward } from '../../src/engine/kernels/qmatmul.ts';
import { allocQuant, quantizeGpu } from '../../src/engine/kernels/quant.ts';
import { QUANT_FORMATS, quantBytes, type QuantFormat } from '../../src/engine/quant/block.ts';
import { row, type BenchContext, type BenchRow } from '../harness.ts';

function fill(gpu: Gpu, b: GpuBuf, n: number, seed: number): void {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.sin(i * 0.37 + seed) * 0.5;
  gpu.write(b, a);
}

export async function bench(gpu: Gpu, ctx: BenchContext): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const shapes: [number, number, number][] = ctx.quick ? [[512, 512, 512]] : [[512, 512, 512], [2048, 576, 576], [2048, 1536, 576]];
  const formats: readonly QuantFormat[] = ctx.quick ? ['q4'] : QUANT_FORMATS;
  for (const [M, N, K] of shapes) {
    const arena = gpu.arena.child();
    const x = await arena.alloc('scratch', M * K * 4, 'x');
    const y = await arena.alloc('scratch', M * N * 4, 'y');
    const w32 = await arena.alloc('scratch', N * K * 4, 'w');
    fill(gpu, x, M * K, 1);
    fill(gpu, w32, N * K, 2);
    const shape = `M=${M} N=${N} K=${K}`;
    const flops = 2 * M * N * K;
    const f32ms = await ctx.time(() => matmul(gpu, x, w32, y, { layout: 'NT', M, N, K }));
    rows.push(row('qmatmul fwd', 'f32 (matmul NT)', shape, f32ms, flops, 4 * (M * K + N * K + M * N)));
    for (const f of formats) {
      const w = await allocQuant(arena, f, N, K, 'wq', 'scratch');
      quantizeGpu(gpu, w32, w);
      const ms = await ctx.time(() => qmatmulForward(gpu, x, w, y, M));
      rows.push(row('qmatmul fwd', f, shape, ms, flops, 4 * (M * K + M * N) + quantBytes(N, K, f), true));
      if (!ctx.quick && M === 512) {
        const bms = await ctx.time(() => qmatmulBackward(gpu, y, w, x, M));
        rows.push(row('qmatmul bwd', f, shape, bms, flops, 4 * (M * K + M * N) + quantBytes(N, K, f), true));
      }
    }
    if (!ctx.quick && M === 512) {
      const bms = await ctx.time(() => matmul(gpu, y, w32, x, { layout: 'NN', M, N: K, K: N }));
      rows.push(row('qmatmul bwd', 'f32 (matmul NN)', shape, bms, flops, 4 * (M * K + N * K + M * N)));
    }
    arena.dispose();
  }
  return rows;
}
