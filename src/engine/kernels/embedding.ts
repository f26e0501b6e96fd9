// Embedding gather and deterministic scatter-add backward (shaders/embedding.wgsl).
// ids: (n) u32, table / dtable: (V, C), out / dout: (n, C).
//
// Out-of-range ids: kernels cannot throw, so gather writes a zero row and scatter skips
// the token. Callers that hold the ids on the host check them first with
// `validateTokenIds`, which throws naming the first bad position.

import type { GpuBuf } from '../gpu/arena.ts';
import type { Gpu } from '../gpu/gpu.ts';
import { f32, grid1d } from '../gpu/params.ts';
import type { KernelSpec } from '../gpu/registry.ts';

const WG = 256;
const K = {
  gather: { shader: 'embedding', entry: 'gather', bindings: ['read', 'read', 'rw'] },
  scaleTable: { shader: 'embedding', entry: 'scale_table', bindings: ['read', 'read', 'rw'] },
  scatter: { shader: 'embedding', entry: 'scatter', bindings: ['read', 'read', 'rw'] },
} as const satisfies Record<string, KernelSpec>;

export class TokenIdError extends Error {
  override name = 'TokenIdError';
}

/** Throws a TokenIdError naming the first id that is not an integer in [0, V). */
export function validateTokenIds(ids: ArrayLike<number>, V: number, what = 'token ids'): void {
  for (let i = 0; i < ids.length; i++) {
    const v = ids[i];
    if (!Number.isInteger(v) || v < 0 || v >= V) throw new TokenIdError(`${what}[${i}] = ${v} is outside the vocabulary [0, ${V})`);
  }
}

function checkSize(buf: GpuBuf, floats: number, what: string): void {
  if (buf.size < floats * 4) throw new RangeError(`embedding: ${what} needs ${floats} values, ${buf.label} holds ${buf.size / 4}`);
}

/** out[i, :] = table[ids[i], :] (a zero row where ids[i] >= V).
 *  ids: (n) u32, table: (V, C), out: (n, C) */
export function embeddingForward(gpu: Gpu, ids: GpuBuf, table: GpuBuf, out: GpuBuf, n: number, C: number, V: number): void {
  checkSize(ids, n, 'ids');
  checkSize(table, V * C, 'table');
  checkSize(out, n * C, 'out');
  if (n * C === 0) return;
  gpu.dispatch(K.gather, { params: [n, C, V, f32(0)], buffers: [ids, table, out], grid: grid1d(n * C, WG) });
}

/** dtable = beta·dtable + Σ_{i: ids[i] = v} dout[i, :] per row v (ids >= V skipped). beta = 0
 *  overwrites (never reads dtable); beta = 1 accumulates without touching untouched rows.
 *  ids: (n) u32, dout: (n, C), dtable: (V, C) */
export function embeddingBackward(gpu: Gpu, ids: GpuBuf, dout: GpuBuf, dtable: GpuBuf, n: number, C: number, V: number, beta = 0): void {
  checkSize(ids, n, 'ids');
  checkSize(dout, n * C, 'dout');
  checkSize(dtable, V * C, 'dtable');
  if (V * C === 0) return;
  // scale_table binds only dtable; bindings 1 and 2 are unused there, ids / dout fill them.
  if (beta !== 1) gpu.dispatch(K.scaleTable, { params: [n, C, V, f32(beta)], buffers: [ids, dout, dtable], grid: grid1d(V * C, WG) });
  if (n > 0) gpu.dispatch(K.scatter, { params: [n, C, V, f32(beta)], buffers: [ids, dout, dtable], grid: grid1d(C, WG) });
}
