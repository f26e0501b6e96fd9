// optim.wgsl — parameter updates, with the gradient optionally scaled by a clip factor that
// lives on the GPU (gradnorm.wgsl writes [norm, scale]), so clipping needs no host trip.
// With a clip buffer whose norm is not finite (NaN / Inf in some gradient) the update is
// skipped: p, m, v, buf stay as they were, and the trainer, reading the norm, stops.
//
// Shapes: p, g, m, v, buf: (n); gscale: (2) = [norm, scale] (read only when useScale).
//   adamw (PyTorch AdamW, in its order of operations):
//          g ← g·s;  p ← p·(1 − lr·wd);  m ← β1 m + (1 − β1) g;  v ← β2 v + (1 − β2) g²;
//          p ← p − (lr / bc1) · m / (√v / √bc2 + eps),   bc1 = 1 − β1^t, bc2 = 1 − β2^t
//   sgd (PyTorch SGD): g ← g·s + wd·p; with momentum μ: buf ← first ? g : μ buf + (1 − damp) g,
//          g ← nesterov ? g + μ buf : buf;  p ← p − lr·g
// Every coefficient that is a difference (1 − β, 1 − lr·wd, 1 − damp) or depends on t comes
// from the host in float64: 1 − f32(0.999) would be off by 1.3e-5 relative.
// Bindings: adamw 1 g, 2 gscale, 3 p (rw), 4 m (rw), 5 v (rw); sgd 1 g, 2 gscale, 3 p (rw), 4 buf (rw)
// Grid: 1-D over n, folded past 65535 workgroups.

override WG: u32 = 256;

struct Params {
  n: u32,
  useScale: u32,
  flags: u32,     // sgd: bit 0 first step, bit 1 nesterov, bit 2 momentum on
  lr: f32,        // sgd only
  beta1: f32,     // sgd: momentum μ
  beta2: f32,
  omb1: f32,      // 1 − β1;  sgd: 1 − dampening
  omb2: f32,      // 1 − β2
  eps: f32,
  wd: f32,        // sgd: coupled weight decay
  decay: f32,     // adamw: 1 − lr·wd
  stepSize: f32,  // adamw: lr / bc1
  bc2sqrt: f32,   // adamw: √bc2
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

// Tested on the bits (exponent all ones), which no fast-math can fold away.
fn finite(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
}

fn skip() -> bool {
  return p.useScale != 0u && !finite(gscale[0]);
}

fn grad(i: u32) -> f32 {
  if (p.useScale != 0u) { return g[i] * gscale[1]; }
  return g[i];
}

@compute @workgroup_size(WG)
fn adamw(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat(gid, nwg);
  if (i >= p.n || skip()) { return; }
  let gi = grad(i);
  let mi = p.beta1 * m[i] + p.omb1 * gi;
  let vi = p.beta2 * v[i] + p.omb2 * gi * gi;
  m[i] = mi;
  v[i] = vi;
  let decayed = w[i] * p.decay;
  w[i] = decayed - p.stepSize * mi / (sqrt(vi) / p.bc2sqrt + p.eps);
}

@compute @workgroup_size(WG)
fn sgd(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat(gid, nwg);
  if (i >= p.n || skip()) { return; }
  var gi = grad(i) + p.wd * w[i];
  if ((p.flags & 4u) != 0u) {
    var b = gi;
    if ((p.flags & 1u) == 0u) { b = p.beta1 * m[i] + p.omb1 * gi; }
    m[i] = b;
    if ((p.flags & 2u) != 0u) { gi = gi + p.beta1 * b; } else { gi = b; }
  }
  w[i] = w[i] - p.lr * gi;
}
