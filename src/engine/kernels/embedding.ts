// Embedding gather and scatter-add backward (shaders/embedding.wgsl).

import type { GpuBuf } from '../gpu/arena.ts';
import type { Gpu } from '../gpu/gpu.ts';
import { f32, grid1d } from '../gpu/params.ts';
import type { KernelSpec } from '../gpu/registry.ts';

const WG = 256;
const K = {
  gather: { shader: 'embedding', entry: 'gather', bindings: ['read', 'read', 'rw'] },
  scatter: { shader: 'embedding', entry: 'scatter', bindings: ['read', 'read', 'rw'] },
} as const satisfies Record<string, KernelSpec>;

export class TokenIdError extends Error {
  override name = 'TokenIdError';
}

/** Throws naming the first id outside [0, V). Kernels write zeros for such ids instead. */
export function validateTokenIds(ids: ArrayLike<number>, V: number, what = 'token ids'): void {
  for (let i = 0; i < ids.length; i++) {
    const v = ids[i];
    if (!Number.isInteger(v) || v < 0 || v >= V) throw new TokenIdError(`${what}[${i}] = ${v} is outside the vocabulary [0, ${V})`);
  }
}

/** out[i, :] = table[ids[i], :].  ids: (n) u32, table: (V, C), out: (n, C) */
export function embeddingForward(gpu: Gpu, ids: GpuBuf, table: GpuBuf, out: GpuBuf, n: number, C: number, V: number): void {
  gpu.dispatch(K.gather, { params: [n, C, V, f32(0)], buffers: [ids, table, out], grid: grid1d(n * C, WG) });
}

/** dtable = beta·dtable + scatter-add of dout rows by ids.  dout: (n, C), dtable: (V, C) */
export function embeddingBackward(gpu: Gpu, ids: GpuBuf, dout: GpuBuf, dtable: GpuBuf, n: number, C: number, V: number, beta = 0): void {
  gpu.dispatch(K.scatter, { params: [n, C, V, f32(beta)], buffers: [ids, dout, dtable], grid: grid1d(C, WG) });
}
