// rng.wgsl — counter-based random numbers (Philox4x32-10) for initialisation and for
// zeroth-order training, where the same (seed, stream, index) must give the same value on
// every device so that noise is regenerated from a seed instead of stored.
// Definitions (src/engine/kernels/rng.ref.ts is the reference and says it at length):
//   block q = philox((q, stream, 0, 0), (seedLo, seedHi));  index i reads block i / 4, word i % 4
//   uniform(i)  = (x[i % 4] >> 8) · 2^-24 ∈ [0, 1)           (exact in f32: bitwise = reference)
//   gaussian(i) = Box–Muller on (x0, x1) → z0 = r cos θ, z1 = r sin θ and (x2, x3) → z2, z3,
//                 u = ((x_a >> 8) + 1) · 2^-24 ∈ (0, 1], θ = 2π (x_b >> 8) · 2^-24, r = √(−2 ln u)
// Only 32-bit integer ops: the 64-bit product's high half is built from 16-bit halves. ln, sin
// and cos are our own f32 polynomials (only + − × ÷, frexp, round), not the built-ins, whose
// accuracy WGSL leaves loose and devices implement differently.
//
// Shapes: out, w: (n); idx: (n) u32; raw: (4n) u32.
//   raw:             raw[4q + j] = block(q)[j], q < n                     (tests: bitwise check)
//   fill_uniform:    out[k] = a + (b − a) · uniform(offset + k)           (a = lo, b = hi)
//   fill_normal:     out[k] = a + b · gaussian(offset + k)                (a = mean, b = std)
//   perturb:         w[k] += a · gaussian(offset + k)                      (MeZO: ±ε z in place)
//   perturb_indexed: w[idx[k]] += a · gaussian(offset + k), idx unique    (sparse MeZO)
// Bindings: raw 1 raw (rw, u32); fill_*, perturb 1 out / w (rw); perturb_indexed 1 idx, 2 w (rw)
// Grid: 1-D, folded past 65535 workgroups. raw: one thread per block. The others: one thread
// per Philox block touched by [offset, offset + n), i.e. blocks offset/4 + t for
// t < (offset + n − 1)/4 − offset/4 + 1; the thread computes its block once (one Philox call,
// two logs, two sincos) and handles the up-to-4 outputs of the block that fall in range.

override WG: u32 = 256;

struct Params {
  n: u32,
  seedLo: u32,
  seedHi: u32,
  offset: u32,
  stream: u32,
  a: f32,
  b: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> outU: array<u32>;
@group(0) @binding(1) var<storage, read_write> outF: array<f32>;
@group(0) @binding(1) var<storage, read> idx: array<u32>;
@group(0) @binding(2) var<storage, read_write> w2: array<f32>;

fn flat(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

fn mulhi(a: u32, b: u32) -> u32 {
  let a0 = a & 0xffffu;
  let a1 = a >> 16u;
  let b0 = b & 0xffffu;
  let b1 = b >> 16u;
  let p00 = a0 * b0;
  let p01 = a0 * b1;
  let p10 = a1 * b0;
  let p11 = a1 * b1;
  let mid = (p00 >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
  return p11 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u);
}

fn philox(ctr: vec4u, key: vec2u) -> vec4u {
  var c = ctr;
  var k = key;
  for (var r = 0u; r < 10u; r++) {
    let hi0 = mulhi(0xd2511f53u, c.x);
    let lo0 = 0xd2511f53u * c.x;
    let hi1 = mulhi(0xcd9e8d57u, c.z);
    let lo1 = 0xcd9e8d57u * c.z;
    c = vec4u(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
    k += vec2u(0x9e3779b9u, 0xbb67ae85u);
  }
  return c;
}

fn block(q: u32) -> vec4u {
  return philox(vec4u(q, p.stream, 0u, 0u), vec2u(p.seedLo, p.seedHi));
}

const TWO_M24: f32 = 5.9604644775390625e-8; // 2^-24

fn uniforms(x: vec4u) -> vec4f {
  return vec4f(x >> vec4u(8u)) * TWO_M24;
}

const TWO_PI: f32 = 6.283185307179586;
const LN2_HI: f32 = 0.693145751953125;        // 22713 · 2^-15: e · LN2_HI is exact for |e| < 2^9
const LN2_LO: f32 = 1.4286068202862268e-6;    // ln 2 − LN2_HI
const SQRT_HALF: f32 = 0.7071067811865476;

// ln(u) for u in (0, 1]: u = m · 2^e with m in [√½, √2), ln m = 2 atanh(s), s = (m − 1)/(m + 1),
// |s| <= 0.1716, series to s^13 (truncation < 1e-10). m − 1 is exact, so ln(1) = 0 exactly.
fn ln01(u: f32) -> f32 {
  let fe = frexp(u);
  var m = fe.fract;
  var e = fe.exp;
  if (m < SQRT_HALF) {
    m = 2.0 * m;
    e -= 1;
  }
  let s = (m - 1.0) / (m + 1.0);
  let s2 = s * s;
  let series = s * (2.0 + s2 * (2.0 / 3.0 + s2 * (0.4 + s2 * (2.0 / 7.0 + s2 * (2.0 / 9.0 + s2 * (2.0 / 11.0 + s2 * (2.0 / 13.0)))))));
  let fe32 = f32(e);
  return fe32 * LN2_HI + (fe32 * LN2_LO + series);
}

// (sin 2πt, cos 2πt) for t in [0, 1): exact quarter-turn reduction, Taylor series on |x| <= π/4.
fn sincos_turns(t: f32) -> vec2f {
  let q = round(t * 4.0);
  let x = TWO_PI * (t - q * 0.25);
  let x2 = x * x;
  let sn = x * (1.0 - x2 / 6.0 * (1.0 - x2 / 20.0 * (1.0 - x2 / 42.0 * (1.0 - x2 / 72.0))));
  let cs = 1.0 - x2 / 2.0 * (1.0 - x2 / 12.0 * (1.0 - x2 / 30.0 * (1.0 - x2 / 56.0 * (1.0 - x2 / 90.0))));
  switch (u32(q) % 4u) {
    case 0u: { return vec2f(sn, cs); }
    case 1u: { return vec2f(cs, -sn); }
    case 2u: { return vec2f(-sn, -cs); }
    default: { return vec2f(-cs, sn); }
  }
}

// The block's four Gaussians (z0, z1, z2, z3).
fn gaussians(x: vec4u) -> vec4f {
  let u0 = f32((x.x >> 8u) + 1u) * TWO_M24;
  let u1 = f32((x.z >> 8u) + 1u) * TWO_M24;
  let r0 = sqrt(-2.0 * ln01(u0));
  let r1 = sqrt(-2.0 * ln01(u1));
  let a = sincos_turns(f32(x.y >> 8u) * TWO_M24);
  let b = sincos_turns(f32(x.w >> 8u) * TWO_M24);
  return vec4f(r0 * a.y, r0 * a.x, r1 * b.y, r1 * b.x);
}

// Output slot of word j of the thread's block, or false when the word is outside [offset, offset + n).
struct Slot {
  k: u32,
  ok: bool,
}

fn slot(q: u32, j: u32) -> Slot {
  let i = 4u * q + j; // q <= (2^32 − 1) / 4, so no overflow
  return Slot(i - p.offset, i >= p.offset && i - p.offset < p.n);
}

// Threads cover blocks first_block() + t for t < block_count().
fn first_block() -> u32 {
  return p.offset / 4u;
}

fn block_count() -> u32 {
  if (p.n == 0u) { return 0u; }
  return (p.offset + p.n - 1u) / 4u - p.offset / 4u + 1u;
}

@compute @workgroup_size(WG)
fn raw(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let q = flat(gid, nwg);
  if (q >= p.n) { return; }
  let x = block(q);
  for (var j = 0u; j < 4u; j++) { outU[4u * q + j] = x[j]; }
}

@compute @workgroup_size(WG)
fn fill_uniform(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = flat(gid, nwg);
  if (t >= block_count()) { return; }
  let q = first_block() + t;
  let u = uniforms(block(q));
  for (var j = 0u; j < 4u; j++) {
    let s = slot(q, j);
    if (s.ok) { outF[s.k] = p.a + (p.b - p.a) * u[j]; }
  }
}

@compute @workgroup_size(WG)
fn fill_normal(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = flat(gid, nwg);
  if (t >= block_count()) { return; }
  let q = first_block() + t;
  let z = gaussians(block(q));
  for (var j = 0u; j < 4u; j++) {
    let s = slot(q, j);
    if (s.ok) { outF[s.k] = p.a + p.b * z[j]; }
  }
}

@compute @workgroup_size(WG)
fn perturb(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = flat(gid, nwg);
  if (t >= block_count()) { return; }
  let q = first_block() + t;
  let z = gaussians(block(q));
  for (var j = 0u; j < 4u; j++) {
    let s = slot(q, j);
    if (s.ok) { outF[s.k] += p.a * z[j]; }
  }
}

@compute @workgroup_size(WG)
fn perturb_indexed(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = flat(gid, nwg);
  if (t >= block_count()) { return; }
  let q = first_block() + t;
  let z = gaussians(block(q));
  for (var j = 0u; j < 4u; j++) {
    let s = slot(q, j);
    if (s.ok) {
      let at = idx[s.k];
      w2[at] += p.a * z[j];
    }
  }
}
