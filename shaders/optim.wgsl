// optim.wgsl — parameter updates, with the gradient optionally scaled by a clip factor that
// lives on the GPU (gradnorm.wgsl writes [norm, scale]), so clipping needs no host trip.
//
// Shapes: p, g, m, v, buf: (n); gscale: (2) = [norm, scale] (read only when USE_SCALE).
//   adamw (PyTorch AdamW):  g ← g·s;  p ← p·(1 − lr·wd);  m ← β1 m + (1 − β1) g;
//          v ← β2 v + (1 − β2) g²;  p ← p − lr · (m / bc1) / (√(v / bc2) + eps)
//          with bc1 = 1 − β1^t, bc2 = 1 − β2^t computed on the host for step t.
//   sgd (PyTorch SGD): g ← g·s + wd·p; with momentum μ: buf ← first ? g : μ buf + (1 − damp) g,
//          g ← nesterov ? g + μ buf : buf;  p ← p − lr·g
// Bindings: adamw 1 g, 2 gscale, 3 p (rw), 4 m (rw), 5 v (rw); sgd 1 g, 2 gscale, 3 p (rw), 4 buf (rw)
// Grid: 1-D over n, folded past 65535 workgroups.

override WG: u32 = 256;

struct Params {
  n: u32,
  useScale: u32,
  flags: u32,   // sgd: bit 0 first step, bit 1 nesterov, bit 2 momentum on
  lr: f32,
  beta1: f32,   // sgd: momentum
  beta2: f32,   // sgd: dampening
  eps: f32,
  wd: f32,
  bc1: f32,
  bc2: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> gscale: array<f32>;
@group(0) @binding(3) var<storage, read_write> w: array<f32>;
@group(0) @binding(4) var<storage, read_write> m: array<f32>;
@group(0) @binding(5) var<storage, read_write> v: array<f32>;

fn flat(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

fn grad(i: u32) -> f32 {
  if (p.useScale != 0u) { return g[i] * gscale[1]; }
  return g[i];
}

@compute @workgroup_size(WG)
fn adamw(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat(gid, nwg);
  if (i >= p.n) { return; }
  let gi = grad(i);
  let mi = p.beta1 * m[i] + (1.0 - p.beta1) * gi;
  let vi = p.beta2 * v[i] + (1.0 - p.beta2) * gi * gi;
  m[i] = mi;
  v[i] = vi;
  let decayed = w[i] * (1.0 - p.lr * p.wd);
  w[i] = decayed - p.lr * (mi / p.bc1) / (sqrt(vi / p.bc2) + p.eps);
}

@compute @workgroup_size(WG)
fn sgd(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat(gid, nwg);
  if (i >= p.n) { return; }
  var gi = grad(i) + p.wd * w[i];
  if ((p.flags & 4u) != 0u) {
    var b = gi;
    if ((p.flags & 1u) == 0u) { b = p.beta1 * m[i] + (1.0 - p.beta2) * gi; }
    m[i] = b;
    if ((p.flags & 2u) != 0u) { gi = gi + p.beta1 * b; } else { gi = b; }
  }
  w[i] = w[i] - p.lr * gi;
}
