// rng.wgsl — counter-based random numbers (Philox4x32-10) for initialisation and for
// zeroth-order training, where the same (seed, index) must give the same value on every
// device so that noise is regenerated from a seed instead of stored.
// Definitions (shared with src/engine/kernels/rng.ref.ts, which is the reference):
//   block q of seed (lo, hi) = philox((q, 0, 0, 0), (lo, hi))
//   uniform(i)  = ((x[i % 4] >> 8) + 0.5) / 2^24
//   gaussian(i) = Box–Muller on (x0, x1) → z0, z1 and (x2, x3) → z2, z3; z[i % 4]
// Only 32-bit integer ops: the 64-bit product's high half is built from 16-bit halves.
//
// Shapes: out, w: (n); idx: (n) u32; raw: (4n) u32.
//   raw:             raw[4q + j] = block(q)[j]                        (tests: bitwise check)
//   fill_uniform:    out[i] = lo + (hi − lo) · uniform(offset + i)    (a = lo, b = hi)
//   fill_normal:     out[i] = mean + std · gaussian(offset + i)       (a = mean, b = std)
//   perturb:         w[i] += a · gaussian(offset + i)                  (MeZO: ±ε z in place)
//   perturb_indexed: w[idx[k]] += a · gaussian(offset + k)            (sparse MeZO)
// Bindings: raw 1 raw (rw, u32); fill_* 1 out (rw); perturb 1 w (rw); perturb_indexed 1 idx, 2 w (rw)
// Grid: 1-D over n, folded past 65535 workgroups. One thread per output: each thread runs
// Philox for its own block (up to 4x redundant, but independent of any offset alignment).

override WG: u32 = 256;

struct Params {
  n: u32,
  seedLo: u32,
  seedHi: u32,
  offset: u32,
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

fn block(i: u32) -> vec4u {
  return philox(vec4u(i / 4u, 0u, 0u, 0u), vec2u(p.seedLo, p.seedHi));
}

fn uniform01(i: u32) -> f32 {
  return (f32(block(i)[i % 4u] >> 8u) + 0.5) / 16777216.0;
}

// WGSL's built-in sin/cos may be off by 2^-11 and log by a few ulp, and differ between
// devices; these versions use only + − × ÷ in f32, so every device agrees to ~1e-7.
const TWO_PI: f32 = 6.283185307179586;

// ln(u) for u in (0, 1]: u = m·2^e, m in [0.5, 1), ln m = 2 atanh((m − 1)/(m + 1)).
fn ln01(u: f32) -> f32 {
  let fe = frexp(u);
  let s = (fe.fract - 1.0) / (fe.fract + 1.0);
  let s2 = s * s;
  let series = s * (2.0 + s2 * (2.0 / 3.0 + s2 * (0.4 + s2 * (2.0 / 7.0 + s2 * (2.0 / 9.0 + s2 * (2.0 / 11.0 + s2 * (2.0 / 13.0)))))));
  return f32(fe.exp) * 0.6931471805599453 + series;
}

// (sin 2πt, cos 2πt) for t in [0, 1): quarter-turn reduction (exact), Taylor on |x| <= π/4.
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

fn gaussian(i: u32) -> f32 {
  let x = block(i);
  let j = i % 4u;
  let pair = select(2u, 0u, j < 2u);
  let u = (f32(x[pair] >> 8u) + 1.0) / 16777216.0;
  let t = f32(x[pair + 1u] >> 8u) / 16777216.0;
  let r = sqrt(-2.0 * ln01(u));
  let sc = sincos_turns(t);
  return select(r * sc.x, r * sc.y, (j & 1u) == 0u);
}

@compute @workgroup_size(WG)
fn raw(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let q = flat(gid, nwg);
  if (q >= p.n) { return; }
  let x = philox(vec4u(q, 0u, 0u, 0u), vec2u(p.seedLo, p.seedHi));
  for (var j = 0u; j < 4u; j++) { outU[4u * q + j] = x[j]; }
}

@compute @workgroup_size(WG)
fn fill_uniform(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat(gid, nwg);
  if (i >= p.n) { return; }
  outF[i] = p.a + (p.b - p.a) * uniform01(p.offset + i);
}

@compute @workgroup_size(WG)
fn fill_normal(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat(gid, nwg);
  if (i >= p.n) { return; }
  outF[i] = p.a + p.b * gaussian(p.offset + i);
}

@compute @workgroup_size(WG)
fn perturb(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat(gid, nwg);
  if (i >= p.n) { return; }
  outF[i] += p.a * gaussian(p.offset + i);
}

@compute @workgroup_size(WG)
fn perturb_indexed(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let k = flat(gid, nwg);
  if (k >= p.n) { return; }
  let at = idx[k];
  w2[at] += p.a * gaussian(p.offset + k);
}
