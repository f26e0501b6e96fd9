// Counter-based RNG reference: Philox4x32-10 (Salmon, Moraes, Dror, Shaw, SC'11; Random123)
// and the webtune streams built on it. This file defines them; shaders/rng.wgsl must agree.
//
//   philox(ctr: 4 x u32, key: 2 x u32) -> 4 x u32      (10 rounds)
//   block q of seed s:   philox((q, 0, 0, 0), (s_lo, s_hi))  with s = s_hi·2^32 + s_lo
//   uniform(s, i) = ((x[i mod 4] >> 8) + 0.5) / 2^24 ∈ (0, 1),  x = block(floor(i / 4))
//   gaussian(s, i): Box–Muller on the block's pairs: with u_a = ((x_a >> 8) + 1) / 2^24 ∈ (0, 1]
//     and t_b = (x_b >> 8) / 2^24, r = √(−2 ln u_0), θ = 2π t_1: z_0 = r cos θ, z_1 = r sin θ;
//     likewise (x_2, x_3) give z_2, z_3; gaussian(s, i) = z[i mod 4].

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

/** High 32 bits of the 64-bit product of two u32. */
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

export function philox4x32(ctr: readonly [number, number, number, number], key: readonly [number, number]): [number, number, number, number] {
  let [c0, c1, c2, c3] = ctr.map((x) => x >>> 0);
  let [k0, k1] = key.map((x) => x >>> 0);
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

function seedKey(seed: number): [number, number] {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`seed ${seed} must be a non-negative safe integer`);
  return [seed % 2 ** 32, Math.floor(seed / 2 ** 32)];
}

export function uniformRef(seed: number, i: number): number {
  const x = philox4x32([Math.floor(i / 4), 0, 0, 0], seedKey(seed))[i % 4];
  return ((x >>> 8) + 0.5) / 2 ** 24;
}

export function gaussianRef(seed: number, i: number): number {
  const x = philox4x32([Math.floor(i / 4), 0, 0, 0], seedKey(seed));
  const pair = i % 4 < 2 ? 0 : 2;
  const u = ((x[pair] >>> 8) + 1) / 2 ** 24;
  const t = (x[pair + 1] >>> 8) / 2 ** 24;
  const r = Math.sqrt(-2 * Math.log(u));
  return i % 2 === 0 ? r * Math.cos(2 * Math.PI * t) : r * Math.sin(2 * Math.PI * t);
}

/** w[i] + c · gaussian(seed, offset + i) */
export function perturbRef(w: ArrayLike<number>, seed: number, offset: number, c: number): Float64Array {
  return Float64Array.from({ length: w.length }, (_, i) => w[i] + c * gaussianRef(seed, offset + i));
}
