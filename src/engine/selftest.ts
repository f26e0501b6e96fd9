// A quick proof that kernels load and run on this device: axpby on an awkward length of
// seeded values, compared with its plain-loop reference. The page's worker and the CLI
// `info` command both run it.

import type { Gpu } from './gpu/gpu.ts';
import { axpby } from './kernels/elementwise.ts';
import { uniform } from './rng/philox.ts';

export interface KernelCheck {
  kernel: string;
  n: number;
  maxAbsError: number;
  ms: number;
}

export async function kernelSelfTest(gpu: Gpu, seed: number): Promise<KernelCheck> {
  const n = 4099; // not a multiple of the workgroup size
  const x = Float32Array.from({ length: n }, (_, i) => 2 * uniform(seed, i) - 1);
  const y = Float32Array.from({ length: n }, (_, i) => 2 * uniform(seed, n + i) - 1);
  const run = gpu.arena.child();
  try {
    const t0 = performance.now();
    const bx = await gpu.upload('scratch', x, 'selftest.x', run);
    const by = await gpu.upload('scratch', y, 'selftest.y', run);
    axpby(gpu, bx, by, n, 0.75, -1.5);
    const got = await gpu.readF32(by);
    const ms = performance.now() - t0;
    // The same sum on the host, in f64 (tests hold the kernel to kernels/elementwise.ref.ts).
    let maxAbsError = 0;
    for (let i = 0; i < n; i++) maxAbsError = Math.max(maxAbsError, Math.abs(got[i] - (0.75 * x[i] - 1.5 * y[i])));
    return { kernel: 'axpby', n, maxAbsError, ms };
  } finally {
    run.dispose();
  }
}
