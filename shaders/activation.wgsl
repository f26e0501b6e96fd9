// activation.wgsl — SiLU-gated MLP (SwiGLU) and tanh-GELU, forward and backward.
//
// Shapes: every buffer (n) = (rows * I), flat.
//   swiglu_fwd: h = silu(g) * u,                 silu(g) = g * sigmoid(g)
//   swiglu_bwd: dg = dh * u * sigmoid(g) * (1 + g * (1 - sigmoid(g))),  du = dh * silu(g)
//   gelu_fwd:   y = 0.5 x (1 + tanh(s (x + 0.044715 x³))),  s = √(2/π)  (GPT-2 "gelu_new")
//   gelu_bwd:   dx = dy * (0.5 (1 + t) + 0.5 x (1 − t²) s (1 + 3·0.044715 x²))
// sigmoid and tanh are written with exp of a non-positive argument so they never
// overflow in f32 (WGSL's tanh may return NaN for large |x| on some drivers).
// Bindings: swiglu_fwd 1 g, 2 u, 3 h (rw); swiglu_bwd 1 dh, 2 g, 3 u, 4 dg (rw), 5 du (rw);
//           gelu_fwd 1 x, 2 y (rw); gelu_bwd 1 dy, 2 x, 3 dx (rw)
// Grid: 1-D over n, folded past 65535 workgroups.

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

fn sigmoid(x: f32) -> f32 {
  let e = exp(-abs(x));
  return select(e / (1.0 + e), 1.0 / (1.0 + e), x >= 0.0);
}

fn tanh_safe(x: f32) -> f32 {
  let e = exp(-2.0 * abs(x));
  return sign(x) * (1.0 - e) / (1.0 + e);
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
  out4[i] = dh * u * sg * (1.0 + g * (1.0 - sg));
  out5[i] = dh * g * sg;
}

@compute @workgroup_size(WG)
fn gelu_fwd(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat(gid, nwg);
  if (i >= p.n) { return; }
  let x = in1[i];
  out2[i] = 0.5 * x * (1.0 + tanh_safe(S * (x + A * x * x * x)));
}

@compute @workgroup_size(WG)
fn gelu_bwd(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat(gid, nwg);
  if (i >= p.n) { return; }
  let x = in2[i];
  let t = tanh_safe(S * (x + A * x * x * x));
  out3[i] = in1[i] * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * S * (1.0 + 3.0 * A * x * x));
}
