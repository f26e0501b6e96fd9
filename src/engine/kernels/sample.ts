// The next token chosen on the GPU (shaders/sample.wgsl): greedy, or temperature with top-k
// and top-p over the seeded Philox stream, so that generating a token reads back 4 bytes.
// The definition is model/sampling.ts's `sampleToken` with u = uniform(seed, index, stream)
// of rng.wgsl; sample.ref.ts is the plain-loop reference the tests compare against.

import type { GpuBuf } from '../gpu/arena.ts';
import type { Gpu } from '../gpu/gpu.ts';
import { f32 } from '../gpu/params.ts';
import type { KernelSpec } from '../gpu/registry.ts';

const K = { sample: { shader: 'sample', entry: 'sample', bindings: ['read', 'rw'] } } as const satisfies Record<string, KernelSpec>;

export interface GpuSampling {
  /** 0 = greedy. */
  temperature: number;
  /** 0 = no limit. */
  topK: number;
  /** 1 = no limit. */
  topP: number;
  /** Seed of the Philox stream, and the index of this token's uniform in it. */
  seed: number;
  index: number;
  stream?: number;
}

/** out[0] = the token chosen from logits (V).  logits: (V) f32, out: (≥ 1) u32 */
export function sampleTokenGpu(gpu: Gpu, logits: GpuBuf, V: number, out: GpuBuf, o: GpuSampling): void {
  if (!Number.isInteger(V) || V < 1 || logits.size < V * 4) throw new RangeError(`sample: logits ${logits.label} hold ${logits.size / 4} values, need V=${V}`);
  if (out.size < 4) throw new RangeError('sample: out needs one u32');
  if (!Number.isSafeInteger(o.seed) || o.seed < 0) throw new RangeError(`sample: seed ${o.seed} must be a non-negative integer`);
  const topK = Math.max(0, Math.min(Math.floor(o.topK), 0xffffffff));
  gpu.dispatch(K.sample, {
    params: [V, o.seed % 2 ** 32, Math.floor(o.seed / 2 ** 32), o.index >>> 0, (o.stream ?? 0) >>> 0, f32(o.temperature), topK, f32(Math.min(1, o.topP))],
    buffers: [logits, out],
    grid: [1],
  });
}
