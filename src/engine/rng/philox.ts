// Counter-based RNG on the host: Philox4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel random
// numbers: as easy as 1, 2, 3", SC'11; the Random123 library) and the webtune streams built
// on it. This file DEFINES them (the GPU's
// plain-loop references in kernels/rng.ref.ts are built on it); shaders/rng.wgsl must agree (bitwise for the integers and
// uniforms, to a few f32 ulps for the Gaussians).
//
//   philox(ctr: 4 x u32, key: 2 x u32) -> 4 x u32, 10 rounds, Random123's constants
//   seed s (a non-negative safe integer) -> key (s mod 2^32, floor(s / 2^32))
//   block q of (seed s, stream t) = x = philox((q, t, 0, 0), key(s))
//   Stream index i (0 <= i < 2^32) reads block floor(i / 4), word j = i mod 4:
//     uniform(s, i, t)  = (x_j >> 8) · 2^-24                      ∈ [0, 1), exact in f32
//     gaussian(s, i, t) = z_j, Box–Muller on the block's pairs (x_0, x_1) and (x_2, x_3):
//       u_a = ((x_a >> 8) + 1) · 2^-24 ∈ (0, 1],  v_b = (x_b >> 8) · 2^-24 ∈ [0, 1)
//       r = √(−2 ln u_0), θ = 2π v_1:  z_0 = r cos θ, z_1 = r sin θ;  likewise z_2, z_3.
// So 4 Gaussians per Philox call; u = 1 gives r = 0 (z = 0), never NaN; |z| <= √(48 ln 2) ≈ 5.77.
// The stream t separates uses that share a seed (tensors, init vs. perturbation); t = 0 is
// the default everywhere.

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;
const TWO_POW_M24 = 2 ** -24;

export type Block = [number, number, number, number];

/** High 32 bits of the 64-bit product of two u32, from 16-bit halves (as the shader does). */
function mulhi(a: number, b: number): number {
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const b0 = b & 0xffff;
  const b1 = b >>> 16;
  const p00 = a0 * b0;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const p11 = a1 * b1;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  return (p11 + (p01 >>> 16) + (p10 >>> 16) + Math.floor(mid / 65536)) >>> 0;
}

/** Philox4x32-10 of one counter under one key. */
export function philox4x32(ctr: readonly [number, number, number, number], key: readonly [number, number]): Block {
  let [c0, c1, c2, c3] = [ctr[0] >>> 0, ctr[1] >>> 0, ctr[2] >>> 0, ctr[3] >>> 0];
  let [k0, k1] = [key[0] >>> 0, key[1] >>> 0];
  for (let r = 0; r < 10; r++) {
    const hi0 = mulhi(M0, c0);
    const lo0 = Math.imul(M0, c0) >>> 0;
    const hi1 = mulhi(M1, c2);
    const lo1 = Math.imul(M1, c2) >>> 0;
    [c0, c1, c2, c3] = [(hi1 ^ c1 ^ k0) >>> 0, lo1, (hi0 ^ c3 ^ k1) >>> 0, lo0];
    k0 = (k0 + W0) >>> 0;
    k1 = (k1 + W1) >>> 0;
  }
  return [c0, c1, c2, c3];
}

/** (seed mod 2^32, floor(seed / 2^32)); throws for seeds that are not non-negative safe integers. */
export function rngKey(seed: number): [number, number] {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`rng seed ${seed} must be a non-negative safe integer`);
  return [seed % 2 ** 32, Math.floor(seed / 2 ** 32)];
}

function checkU32(x: number, what: string): void {
  if (!Number.isInteger(x) || x < 0 || x > 0xffffffff) throw new RangeError(`rng ${what} ${x} must be a u32`);
}

/** Block q of (seed, stream): 4 raw u32. */
export function rngBlock(seed: number, q: number, stream = 0): Block {
  checkU32(q, 'block');
  checkU32(stream, 'stream');
  return philox4x32([q, stream, 0, 0], rngKey(seed));
}

/** The 4 uniforms in [0, 1) of one block. */
export function uniformsOfBlock(x: Block): Block {
  return [(x[0] >>> 8) * TWO_POW_M24, (x[1] >>> 8) * TWO_POW_M24, (x[2] >>> 8) * TWO_POW_M24, (x[3] >>> 8) * TWO_POW_M24];
}

/** The 4 Gaussians of one block (Box–Muller on (x0, x1) and (x2, x3)), in float64. */
export function gaussiansOfBlock(x: Block): Block {
  const r0 = Math.sqrt(-2 * Math.log(((x[0] >>> 8) + 1) * TWO_POW_M24));
  const t0 = 2 * Math.PI * (x[1] >>> 8) * TWO_POW_M24;
  const r1 = Math.sqrt(-2 * Math.log(((x[2] >>> 8) + 1) * TWO_POW_M24));
  const t1 = 2 * Math.PI * (x[3] >>> 8) * TWO_POW_M24;
  return [r0 * Math.cos(t0), r0 * Math.sin(t0), r1 * Math.cos(t1), r1 * Math.sin(t1)];
}

/** uniform(seed, i, stream) ∈ [0, 1). */
export function uniform(seed: number, i: number, stream = 0): number {
  checkU32(i, 'index');
  return uniformsOfBlock(rngBlock(seed, Math.floor(i / 4), stream))[i % 4];
}

/** gaussian(seed, i, stream): standard normal. */
export function gaussian(seed: number, i: number, stream = 0): number {
  checkU32(i, 'index');
  return gaussiansOfBlock(rngBlock(seed, Math.floor(i / 4), stream))[i % 4];
}
