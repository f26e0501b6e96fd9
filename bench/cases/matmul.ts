// f32 matmul: each variant in each layout at shapes a small model's training uses
// (quick mode: 512^3 NT only, one timed rep). FLOPs = 2·M·N·K.
import { MATMUL_VARIANTS, matmul, tuneMatmul, type MatmulLayout } from '../../src/engine/kernels/matmul.ts';
import type { Gpu } from '../../src/engine/gpu/gpu.ts';
import { row, type BenchContext, type BenchRow } from '../harness.ts';

export async function bench(gpu: Gpu, ctx: BenchContext): Promise<BenchRow[]> {
  const tune = await tuneMatmul(gpu, ctx.autotuner);
  const shapes: [number, number, number][] = ctx.quick ? [[512, 512, 512]] : [[512, 512, 512], [2048, 576, 576], [2048, 1536, 576]];
  const layouts: MatmulLayout[] = ctx.quick ? ['NT'] : ['NT', 'NN', 'TN'];
  const rows: BenchRow[] = [];
  for (const [M, N, K] of shapes) {
    const arena = gpu.arena.child();
    const a = await arena.alloc('scratch', M * K * 4, 'a');
    const b = await arena.alloc('scratch', K * N * 4, 'b');
    const c = await arena.alloc('scratch', M * N * 4, 'c');
    for (const layout of layouts) {
      // Every variant the device can run, also those the autotune skips on a CPU adapter.
      for (const v of MATMUL_VARIANTS.filter((x) => x !== 'sg' || gpu.device.features.has('subgroups'))) {
        const ms = await ctx.time(() => matmul(gpu, a, b, c, { layout, M, N, K }, v), ctx.quick ? 1 : undefined);
        rows.push(row(`matmul ${layout}`, v, `M=${M} N=${N} K=${K}`, ms, 2 * M * N * K, 4 * (M * K + K * N + M * N), v === tune.chosen));
      }
    }
    arena.dispose();
  }
  return rows;
}
