// Quantized base matmul (q8, q4, nf4) forward Y = X·Wᵀ and backward dX = dY·W, with the
// f32 `matmul` at the same shapes in the same run for the ratio. gbps counts X + the
// quantized W (codes + scales) + Y per run.
import { matmul } from '../../src/engine/kernels/matmul.ts';
import { allocQuant, qmatmulBackward, qmatmulForward } from '../../src/engine/kernels/quant.ts';
import { QUANT_FORMATS, quantBytes, type QuantFormat } from '../../src/engine/quant/block.ts';
import type { Gpu } from '../../src/engine/gpu/gpu.ts';
import { row, type BenchContext, type BenchRow } from '../harness.ts';

export async function bench(gpu: Gpu, ctx: BenchContext): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const shapes: [number, number, number][] = ctx.quick ? [[512, 512, 512]] : [[512, 512, 512], [2048, 576, 576], [2048, 1536, 576]];
  const formats: readonly QuantFormat[] = ctx.quick ? ['q4'] : QUANT_FORMATS;
  for (const [M, N, K] of shapes) {
    const arena = gpu.arena.child();
    const x = await arena.alloc('scratch', M * K * 4, 'x');
    const y = await arena.alloc('scratch', M * N * 4, 'y');
    const w32 = await arena.alloc('scratch', N * K * 4, 'w');
    const shape = `M=${M} N=${N} K=${K}`;
    const f32ms = await ctx.time(() => matmul(gpu, x, w32, y, { layout: 'NT', M, N, K }));
    rows.push(row('qmatmul fwd', 'f32 (matmul)', shape, f32ms, 2 * M * N * K, 4 * (M * K + N * K + M * N)));
    for (const f of formats) {
      const w = await allocQuant(arena, f, N, K, 'wq', 'scratch');
      const ms = await ctx.time(() => qmatmulForward(gpu, x, w, y, M));
      rows.push(row('qmatmul fwd', f, shape, ms, 2 * M * N * K, 4 * (M * K + M * N) + quantBytes(N, K, f), true));
      if (!ctx.quick && M === 512) {
        const bms = await ctx.time(() => qmatmulBackward(gpu, y, w, x, M));
        rows.push(row('qmatmul bwd', f, shape, bms, 2 * M * N * K, 4 * (M * K + M * N) + quantBytes(N, K, f), true));
      }
    }
    arena.dispose();
  }
  return rows;
}
