// elementwise.wgsl — flat f32 vector operations the training loop needs between kernels.
//
// Bindings (binding 0 is always Params):
//   fill, scale:  1 y (rw)            y = alpha            | y = alpha * y
//   axpby:        1 x (read) 2 y (rw)  y = alpha * x + beta * y   (beta = 0 copies-and-scales)
//   mul:          1 x (read) 2 y (rw)  y = x * y (elementwise)
//   bias_add:     1 b (read) 2 y (rw)  y[r, c] += b[c]   with b: (cols), y: (n / cols, cols)
//   copy2d:       1 x (read) 2 y (rw)  y[r·dstStride + dstOff + c] = x[r·srcStride + srcOff + c]
//                 for r < n / cols, c < cols (a column slice of a row-major matrix: split / merge)
// Shapes: x, y: (n)
// Grid: 1-D over n, folded into y past 65535 workgroups: i = gid.x + gid.y * nwg.x * WG.

override WG: u32 = 256;

struct Params {
  n: u32,
  alpha: f32,
  beta: f32,
  cols: u32,
  srcStride: u32,
  srcOff: u32,
  dstStride: u32,
  dstOff: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> y1: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y2: array<f32>;

fn flat(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

@compute @workgroup_size(WG)
fn fill(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat(gid, nwg);
  if (i < p.n) { y1[i] = p.alpha; }
}

@compute @workgroup_size(WG)
fn scale(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat(gid, nwg);
  if (i < p.n) { y1[i] = p.alpha * y1[i]; }
}

@compute @workgroup_size(WG)
fn axpby(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat(gid, nwg);
  if (i < p.n) {
    // beta == 0 must not read y: it may hold NaN from a previous use of a pooled buffer.
    var acc = p.alpha * x[i];
    if (p.beta != 0.0) { acc += p.beta * y2[i]; }
    y2[i] = acc;
  }
}

@compute @workgroup_size(WG)
fn mul(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat(gid, nwg);
  if (i < p.n) { y2[i] = x[i] * y2[i]; }
}

@compute @workgroup_size(WG)
fn bias_add(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat(gid, nwg);
  if (i < p.n) { y2[i] += x[i % p.cols]; }
}

@compute @workgroup_size(WG)
fn copy2d(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat(gid, nwg);
  if (i < p.n) {
    let r = i / p.cols;
    let c = i % p.cols;
    y2[r * p.dstStride + p.dstOff + c] = x[r * p.srcStride + p.srcOff + c];
  }
}
