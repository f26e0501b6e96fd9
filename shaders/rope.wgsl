// rope.wgsl — rotary position embedding, rotate-half layout (Hugging Face Llama), in place.
//
// Shapes: x: (B, T, H, D) (rows of D, one per (b, t, h)); invFreq: (R/2) with R = rotary
// dims (R <= D, even; dims R..D−1 pass through untouched: partial rotary).
// Position of token t: posOffset + t (posOffset = cache length in KV-cached generation).
//   forward (sign = +1): for i < R/2, a = pos · invFreq[i]:
//     x[i] ← x[i] cos a − x[i + R/2] sin a,   x[i + R/2] ← x[i + R/2] cos a + x[i] sin a
//   backward (sign = −1): the transpose, i.e. the same rotation by −a, applied to dx.
// invFreq is computed on the host (rope.ts: default, linear and llama3 scaling).
// Precision: the angle is formed in f32 as transformers does (f32(pos) · invFreq, one
// rounding: |error| <= ulp(a)/2 ≈ 3e-8·a rad against the real angle, e.g. 3e-4 rad at
// a = 1e4; positions are exact below 2^24). sin/cos of that f32 angle use Cody–Waite
// reduction by π/2 (three-part constant; the first two products exact for |a| < ~3000,
// reduction error ~1e-6·|a|/1e5 beyond) and degree-9/10 polynomials on [−π/4, π/4]
// (error < 2e-10), rather than WGSL's built-ins, whose error bound is 2^-11 and only
// inside [−π, π]. So the kernel matches cos/sin of the f32 angle to ~1e-7 (~1e-6 at 1e5).
// Bindings: 1 invFreq, 2 x (rw)
// Grid: 1-D over B·T·H·(R/2), one thread per rotated pair, folded past 65535 workgroups.

override WG: u32 = 256;

struct Params {
  rows: u32,      // B * T * H
  T: u32,
  H: u32,
  D: u32,
  R: u32,
  posOffset: u32,
  sign: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> invFreq: array<f32>;
@group(0) @binding(2) var<storage, read_write> x: array<f32>;

fn sincos(a: f32) -> vec2f {
  let k = round(a * 0.6366197723675814);
  let r = ((a - k * 1.5703125) - k * 4.837512969970703125e-4) - k * 7.54978995489188216e-8;
  let r2 = r * r;
  let sn = r * (1.0 - r2 / 6.0 * (1.0 - r2 / 20.0 * (1.0 - r2 / 42.0 * (1.0 - r2 / 72.0))));
  let cs = 1.0 - r2 / 2.0 * (1.0 - r2 / 12.0 * (1.0 - r2 / 30.0 * (1.0 - r2 / 56.0 * (1.0 - r2 / 90.0))));
  switch (u32(i32(k) & 3)) {
    case 0u: { return vec2f(sn, cs); }
    case 1u: { return vec2f(cs, -sn); }
    case 2u: { return vec2f(-sn, -cs); }
    default: { return vec2f(-cs, sn); }
  }
}

@compute @workgroup_size(WG)
fn rope(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let half = p.R / 2u;
  let e = gid.x + gid.y * nwg.x * WG;
  if (e >= p.rows * half) { return; }
  let row = e / half;
  let i = e % half;
  let t = (row / p.H) % p.T;
  let a = f32(p.posOffset + t) * invFreq[i];
  let sc = sincos(a);
  let s = p.sign * sc.x;
  let o = row * p.D;
  let x1 = x[o + i];
  let x2 = x[o + i + half];
  x[o + i] = x1 * sc.y - x2 * s;
  x[o + i + half] = x2 * sc.y + x1 * s;
}
