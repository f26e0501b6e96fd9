// The start-up autotune of kernels with variants (matmul, norm, cross-entropy, decoding's GEMV): each is
// measured once per adapter on a representative shape and the choice cached by the
// Autotuner (a JSON file in Node; memory in the browser), so later runs start at once.

import { Autotuner, type AutotuneStore } from './gpu/autotune.ts';
import type { Gpu } from './gpu/gpu.ts';
import { tuneGemv } from './kernels/gemv.ts';
import { tuneMatmul } from './kernels/matmul.ts';
import { tuneNorm } from './kernels/norm.ts';
import { tuneXent } from './kernels/xent.ts';

const tuned = new WeakSet<Gpu>();

/** Pick every autotuned kernel's variant for this device (once per Gpu); returns the choices. */
export async function tuneKernels(gpu: Gpu, store?: AutotuneStore): Promise<Record<string, string>> {
  const tuner = new Autotuner(gpu, store);
  const out = { matmul: (await tuneMatmul(gpu, tuner)).chosen, norm: (await tuneNorm(gpu, tuner)).chosen, xent: (await tuneXent(gpu, tuner)).chosen, gemv: (await tuneGemv(gpu, tuner)).chosen };
  tuned.add(gpu);
  return out;
}

export function isTuned(gpu: Gpu): boolean {
  return tuned.has(gpu);
}
