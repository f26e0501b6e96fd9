// Batched f32 matmul (shaders/matmul.wgsl) in the three layouts of a linear layer:
//   'NT'  Y  = X · Wᵀ   a = X (M, K), b = W (N, K), c = Y (M, N)
//   'NN'  dX = dY · W   a = dY (M, K), b = W (K, N), c = dX (M, N)      [K = out, N = in]
//   'TN'  dW = dYᵀ · X  a = dY (K, M), b = X (K, N), c = dW (M, N)      [K = rows]
// M, N are C's dimensions, K the inner one. Variants: 'reg' (barrier-free register
// tiling, 8x8 outputs per thread), 'tiled' and 'tiled128' (workgroup memory, 64x64 and
// 128x64 C tiles, for real GPUs) and 'sg'
// (register tiling, 16x8 outputs per thread, with op(A) shared through subgroup
// broadcasts: shaders/matmul_sg.wgsl; only where the device has the 'subgroups' feature).
// `tuneMatmul` measures the available ones per adapter and `matmul` then uses the choice
// unless a variant is given; untuned, it uses 'reg'.

import type { GpuBuf } from '../gpu/arena.ts';
import type { AutotuneResult, Autotuner } from '../gpu/autotune.ts';
import type { Gpu } from '../gpu/gpu.ts';
import { f32 } from '../gpu/params.ts';
import type { KernelSpec } from '../gpu/registry.ts';

export type MatmulLayout = 'NT' | 'NN' | 'TN';
export const MATMUL_VARIANTS = ['reg', 'tiled', 'tiled128', 'sg'] as const;
export type MatmulVariant = (typeof MATMUL_VARIANTS)[number];

export interface MatmulShape {
  layout: MatmulLayout;
  M: number;
  N: number;
  K: number;
  /** Number of independent products (default 1). */
  batch?: number;
  /** Elements between consecutive batches of a / b / c; 0 broadcasts. Defaults: dense. */
  strideA?: number;
  strideB?: number;
  strideC?: number;
  /** c = alpha · op(a)·op(b) + beta · c (defaults 1 and 0; beta 0 never reads c). */
  alpha?: number;
  beta?: number;
}

const SPEC: Record<MatmulVariant, KernelSpec> = {
  reg: { shader: 'matmul', entry: 'reg', bindings: ['read', 'read', 'rw'] },
  tiled: { shader: 'matmul', entry: 'tiled', bindings: ['read', 'read', 'rw'] },
  tiled128: { shader: 'matmul', entry: 'tiled128', bindings: ['read', 'read', 'rw'] },
  sg: { shader: 'matmul_sg', entry: 'sg', bindings: ['read', 'read', 'rw'] },
};
/** C tile (rows, columns) per workgroup. reg: 8x8 threads of 8x8 outputs; tiled: 16x16
 *  threads of 4x4; sg: one row of 16 threads (its WG default) of 16x8. */
const C_TILE: Record<MatmulVariant, readonly [number, number]> = { reg: [64, 64], tiled: [64, 64], tiled128: [128, 64], sg: [16, 128] };

/** The variants worth measuring on this device: 'sg' needs the 'subgroups' feature, and on a
 *  CPU adapter (SwiftShader, the fallback adapter) the workgroup-memory variants are left
 *  out: each workgroup barrier there is a round of coroutine switches, so they run 3-4x
 *  slower than 'reg' and take ~14 s per pipeline to build (measured), which the start-up
 *  autotune would pay for nothing. Every variant stays correct everywhere (the tests run all). */
export function matmulVariants(gpu: Gpu): MatmulVariant[] {
  const cpu = gpu.adapter.isFallbackAdapter;
  return MATMUL_VARIANTS.filter((v) => (v !== 'sg' || gpu.device.features.has('subgroups')) && !(cpu && (v === 'tiled' || v === 'tiled128')));
}

/** The autotuned variant per device (set by `tuneMatmul`). */
const chosen = new WeakMap<GPUDevice, MatmulVariant>();

/** c = alpha · op(a)·op(b) + beta · c, batched. Shapes as in the module comment. */
export function matmul(gpu: Gpu, a: GpuBuf, b: GpuBuf, c: GpuBuf, s: MatmulShape, variant?: MatmulVariant): void {
  const { M, N, K } = s;
  const batch = s.batch ?? 1;
  const strideA = s.strideA ?? M * K;
  const strideB = s.strideB ?? K * N;
  const strideC = s.strideC ?? M * N;
  const need = (buf: GpuBuf, stride: number, size: number, what: string) => {
    const elems = (batch - 1) * stride + size;
    if (elems * 4 > buf.size) throw new RangeError(`matmul ${s.layout} ${M}x${N}x${K}: ${what} needs ${elems} floats, ${buf.label} has ${buf.size / 4}`);
  };
  need(a, strideA, M * K, 'a');
  need(b, strideB, K * N, 'b');
  need(c, strideC, M * N, 'c');
  if (M === 0 || N === 0) return;
  const v = variant ?? chosen.get(gpu.device) ?? 'reg';
  if (v === 'sg' && !gpu.device.features.has('subgroups')) throw new Error("matmul variant 'sg' needs the 'subgroups' feature, which this device lacks");
  const [tm, tn] = C_TILE[v];
  const overrides = { TRANS_A: s.layout === 'TN' ? 1 : 0, TRANS_B: s.layout === 'NT' ? 1 : 0 };
  gpu.dispatch(SPEC[v], {
    params: [M, N, K, strideA, strideB, strideC, f32(s.alpha ?? 1), f32(s.beta ?? 0)],
    buffers: [a, b, c],
    grid: [Math.ceil(N / tn), Math.ceil(M / tm), batch],
    overrides,
  });
}

/**
 * Measure the device's variants on a representative linear-layer shape (all three layouts
 * in one run, 3 timed reps each) and make the fastest the default `matmul` uses on this
 * device. Cached per adapter by `tuner` (a cached answer is applied without measuring).
 * Call once at start-up; about a second on SwiftShader at the default size.
 */
export async function tuneMatmul(gpu: Gpu, tuner: Autotuner, size = 256): Promise<AutotuneResult<MatmulVariant>> {
  const n = size * size;
  const arena = gpu.arena.child();
  try {
    const x = await arena.alloc('scratch', n * 4, 'tune-x');
    const w = await arena.alloc('scratch', n * 4, 'tune-w');
    const y = await arena.alloc('scratch', n * 4, 'tune-y');
    const run = (v: MatmulVariant) => {
      for (const layout of ['NT', 'NN', 'TN'] as const) matmul(gpu, x, w, y, { layout, M: size, N: size, K: size }, v);
    };
    const r = await tuner.pick('matmul', `${size}^3`, matmulVariants(gpu), run);
    chosen.set(gpu.device, r.chosen);
    return r;
  } finally {
    arena.dispose();
  }
}

/** The variant `matmul` uses on this device when none is given (undefined: untuned, 'reg'). */
export function chosenMatmulVariant(gpu: Gpu): MatmulVariant | undefined {
  return chosen.get(gpu.device);
}
