// activation.wgsl — SiLU-gated MLP (SwiGLU) and tanh-GELU, forward and backward.
//
// Shapes: every buffer (n) = (rows * I), flat; g and u are separate buffers.
//   swiglu_fwd: h = silu(g) * u,                 silu(g) = g * σ(g)
//   swiglu_bwd: dg = dh * u * (σ(g) + g * σ(g)(1 − σ(g))),  du = dh * silu(g)
//   gelu_fwd:   y = 0.5 x (1 + tanh(z)),  z = s (x + 0.044715 x³),  s = √(2/π)
//               (GPT-2's "gelu_new"), evaluated as x * σ(2z) since 1 + tanh(z) = 2σ(2z)
//   gelu_bwd:   dx = dy * (σ(2z) + 2 x σ(2z)(1 − σ(2z)) · s (1 + 3·0.044715 x²))
//               (2σ(1 − σ) = (1 − tanh²)/2)
// Numerics: σ and σ(1 − σ) are formed from e = exp(−|t|) ∈ (0, 1], so nothing overflows
// (WGSL's tanh/exp can return inf or NaN for large |x| on some drivers). The x·σ form
// keeps full relative precision of gelu for negative x, where 1 + tanh(z) cancels. When
// x³ overflows (|x| > ~7e12) z = ±inf, σ(1 − σ) = 0 and the derivative term is dropped
// explicitly instead of forming 0·inf.
// Bindings: swiglu_fwd 1 g, 2 u, 3 h (rw); swiglu_bwd 1 dh, 2 g, 3 u, 4 dg (rw), 5 du (rw);
//           gelu_fwd 1 x, 2 y (rw); gelu_bwd 1 dy, 2 x, 3 dx (rw)
// Grid: 1-D over n, folded past 65535 workgroups: i = gid.x + gid.y * nwg.x * WG.

override WG: u32 = 256;
const S: f32 = 0.7978845608028654;
const A: f32 = 0.044715;

struct Params {
  n: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> in1: array<f32>;
@group(0) @binding(2) var<storage, read> in2: array<f32>;
@group(0) @binding(2) var<storage, read_write> out2: array<f32>;
@group(0) @binding(3) var<storage, read> in3: array<f32>;
@group(0) @binding(3) var<storage, read_write> out3: array<f32>;
@group(0) @binding(4) var<storage, read_write> out4: array<f32>;
@group(0) @binding(5) var<storage, read_write> out5: array<f32>;

fn flat(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

/// σ(t) without overflow.
fn sigmoid(t: f32) -> f32 {
  let e = exp(-abs(t));
  return select(e / (1.0 + e), 1.0 / (1.0 + e), t >= 0.0);
}

/// σ(t)(1 − σ(t)) = e / (1 + e)², e = exp(−|t|): no cancellation, 0 for |t| = inf.
fn dsigmoid(t: f32) -> f32 {
  let e = exp(-abs(t));
  let d = 1.0 + e;
  return e / (d * d);
}

@compute @workgroup_size(WG)
fn swiglu_fwd(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat(gid, nwg);
  if (i >= p.n) { return; }
  let g = in1[i];
  out3[i] = g * sigmoid(g) * in2[i];
}

@compute @workgroup_size(WG)
fn swiglu_bwd(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat(gid, nwg);
  if (i >= p.n) { return; }
  let dh = in1[i];
  let g = in2[i];
  let u = in3[i];
  let sg = sigmoid(g);
  let ds = dsigmoid(g);
  // g·σ(1 − σ) → 0 as |g| grows; drop it where σ(1 − σ) underflowed (avoids 0·inf).
  let gds = select(g * ds, 0.0, ds == 0.0);
  out4[i] = dh * u * (sg + gds);
  out5[i] = dh * g * sg;
}

@compute @workgroup_size(WG)
fn gelu_fwd(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat(gid, nwg);
  if (i >= p.n) { return; }
  let x = in1[i];
  let z = S * (x + A * x * x * x);
  out2[i] = x * sigmoid(2.0 * z);
}

@compute @workgroup_size(WG)
fn gelu_bwd(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat(gid, nwg);
  if (i >= p.n) { return; }
  let x = in2[i];
  let z = S * (x + A * x * x * x);
  let ds = dsigmoid(2.0 * z);
  let term = select(2.0 * x * ds * S * (1.0 + 3.0 * A * x * x), 0.0, ds == 0.0);
  out3[i] = in1[i] * (sigmoid(2.0 * z) + term);
}
