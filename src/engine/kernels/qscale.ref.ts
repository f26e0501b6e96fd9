// References for qscale.ts: plain loops over the same layout (src/engine/quant/block.ts).

import { f32ToF16 } from '../quant/block.ts';

/** words[w] = f16(src[2w]) | f16(src[2w+1]) << 16 (round to nearest even; high half 0 past n). */
export function packScalesF16Ref(src: ArrayLike<number>): Uint32Array {
  const out = new Uint32Array(Math.ceil(src.length / 2));
  for (let i = 0; i < src.length; i++) out[i >> 1] |= f32ToF16(src[i]) << (16 * (i & 1));
  return out;
}

/** m with m[i] = bit i of signs ? min(m[i], 0) : max(m[i], 0). */
export function projectScaleSignRef(m: ArrayLike<number>, signs: ArrayLike<number>): Float32Array {
  return Float32Array.from({ length: m.length }, (_, i) => ((signs[i >> 5] >>> (i & 31)) & 1 ? Math.min(m[i], 0) : Math.max(m[i], 0)));
}

