// The f16 block scales of a quantized weight written from an f32 master copy, and the sign
// projection of that master (shaders/qscale.wgsl; references in qscale.ref.ts). QZO keeps
// the master in f32, perturbs or updates it there, and packs f16 scales for qmatmul.

import type { GpuBuf } from '../gpu/arena.ts';
import type { Gpu } from '../gpu/gpu.ts';
import { grid1d } from '../gpu/params.ts';
import type { KernelSpec } from '../gpu/registry.ts';

const WG = 256;
const K = {
  pack: { shader: 'qscale', entry: 'pack_f16', bindings: ['read', 'rw'] },
  project: { shader: 'qscale', entry: 'project_sign', bindings: ['read', 'rw'] },
} as const satisfies Record<string, KernelSpec>;

function checkSize(buf: GpuBuf, bytes: number, what: string): void {
  if (buf.size < bytes) throw new RangeError(`qscale: ${what} needs ${bytes} bytes, ${buf.label} has ${buf.size}`);
}

/** words[w] = f16(src[2w]) | f16(src[2w+1]) << 16, round to nearest even.  src: (n) f32, words: (ceil(n/2)) u32 */
export function packScalesF16(gpu: Gpu, src: GpuBuf, words: GpuBuf, n: number): void {
  if (n === 0) return;
  checkSize(src, 4 * n, 'pack src');
  checkSize(words, 4 * Math.ceil(n / 2), 'pack words');
  gpu.dispatch(K.pack, { params: [n], buffers: [src, words], grid: grid1d(Math.ceil(n / 2), WG) });
}

/** m[i] = bit i of signs ? min(m[i], 0) : max(m[i], 0).  signs: (ceil(n/32)) u32, m: (n) f32 */
export function projectScaleSign(gpu: Gpu, signs: GpuBuf, m: GpuBuf, n: number): void {
  if (n === 0) return;
  checkSize(signs, 4 * Math.ceil(n / 32), 'project signs');
  checkSize(m, 4 * n, 'project m');
  gpu.dispatch(K.project, { params: [n], buffers: [signs, m], grid: grid1d(n, WG) });
}
