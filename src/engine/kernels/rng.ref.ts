// Plain-loop references of the rng kernels (shaders/rng.wgsl), built on the host Philox
// streams that rng/philox.ts defines: fills, and MeZO's in-place perturbations.

import { gaussian, gaussiansOfBlock, rngBlock, uniform, uniformsOfBlock, type Block } from '../rng/philox.ts';

export { gaussiansOfBlock, philox4x32, rngBlock, rngKey, uniformsOfBlock, type Block } from '../rng/philox.ts';

/** uniform(seed, i, stream) ∈ [0, 1). */
export const uniformRef = uniform;
/** gaussian(seed, i, stream): standard normal. */
export const gaussianRef = gaussian;

/** Stream values offset .. offset + n − 1, each block computed once. */
function streamRef(n: number, seed: number, offset: number, stream: number, of: (x: Block) => Block): Float64Array {
  if (offset + n > 2 ** 32) throw new RangeError(`rng stream index ${offset + n} is past 2^32`);
  const out = new Float64Array(n);
  let q = -1;
  let vals: Block = [0, 0, 0, 0];
  for (let k = 0; k < n; k++) {
    const i = offset + k;
    if (Math.floor(i / 4) !== q) {
      q = Math.floor(i / 4);
      vals = of(rngBlock(seed, q, stream));
    }
    out[k] = vals[i % 4];
  }
  return out;
}

/** out[k] = lo + (hi − lo) · uniform(seed, offset + k, stream) */
export function fillUniformRef(n: number, seed: number, offset: number, lo: number, hi: number, stream = 0): Float64Array {
  return streamRef(n, seed, offset, stream, uniformsOfBlock).map((u) => lo + (hi - lo) * u);
}

/** out[k] = mean + std · gaussian(seed, offset + k, stream) */
export function fillNormalRef(n: number, seed: number, offset: number, mean: number, std: number, stream = 0): Float64Array {
  return streamRef(n, seed, offset, stream, gaussiansOfBlock).map((z) => mean + std * z);
}

/** w[i] + c · gaussian(seed, offset + i, stream) */
export function perturbRef(w: ArrayLike<number>, seed: number, offset: number, c: number, stream = 0): Float64Array {
  const z = streamRef(w.length, seed, offset, stream, gaussiansOfBlock);
  return Float64Array.from({ length: w.length }, (_, i) => w[i] + c * z[i]);
}

/** w with w[idx[k]] += c · gaussian(seed, offset + k, stream) (idx unique). */
export function perturbIndexedRef(w: ArrayLike<number>, idx: ArrayLike<number>, seed: number, offset: number, c: number, stream = 0): Float64Array {
  const z = streamRef(idx.length, seed, offset, stream, gaussiansOfBlock);
  const out = Float64Array.from(w);
  for (let k = 0; k < idx.length; k++) out[idx[k]] += c * z[k];
  return out;
}
