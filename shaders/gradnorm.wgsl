// gradnorm.wgsl — global gradient L2 norm over many buffers, the clip factor, and an
// optional in-place clip.
//
//   sumsq:    partials[base + w] = Σ g[i]² over the w-th tile of TILE = WG·CH values of g: (n)
//   finalize: norm = √(Σ partials[0..n));  out = [norm, scale]: (2),
//             scale = maxNorm > 0 ? min(1, maxNorm / (norm + 1e-6)) : 1   (clip_grad_norm_),
//             and scale = 0 when norm is not finite (optim.wgsl then skips the update)
//   scale_by: g[i] *= clip[1]   with clip = out of finalize: (2), g: (n)
// A NaN or Inf in any gradient makes the norm non-finite (NaN or +Inf); the trainer reads it
// and stops, and the optimizers, which read `out` on the GPU, leave the weights untouched.
// Finiteness is tested on the bits (exponent all ones), which no fast-math can fold away. (So does a sum of squares past f32's range, ~1.8e19, as in f32 PyTorch on GPU.)
// Algorithm: two passes, no float atomics. sumsq: each thread sums CH squares in registers
// at stride WG (coalesced: a workgroup reads TILE consecutive values), one barrier, thread 0
// adds the WG sums and writes the tile's partial. finalize: one workgroup of FWG threads,
// each sums partials at stride FWG, one barrier, thread 0 adds the FWG sums.
// Bindings: sumsq 1 g, 2 partials (rw); finalize 1 partials, 2 out (rw); scale_by 1 clip, 2 g (rw)
// Grid: sumsq 1-D over ceil(n / TILE) workgroups, folded past 65535; finalize (1);
//       scale_by 1-D over n with WG threads per workgroup, folded past 65535.

override WG: u32 = 64;
override CH: u32 = 64;
override FWG: u32 = 256;

struct Params {
  n: u32,
  base: u32,
  maxNorm: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

var<workgroup> part: array<f32, WG>;
var<workgroup> fpart: array<f32, FWG>;

fn finite(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
}

@compute @workgroup_size(WG)
fn sumsq(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) nwg: vec3u) {
  let w = wid.x + wid.y * nwg.x;
  let tile = WG * CH;
  let tiles = p.n / tile + select(0u, 1u, p.n % tile != 0u);
  if (w >= tiles) { return; } // workgroup-uniform: the folded grid's spare workgroups
  var s = 0.0;
  var i = w * tile + lid;
  for (var k = 0u; k < CH; k++) {
    if (i >= p.n) { break; }
    let x = src[i];
    s += x * x;
    i += WG;
  }
  part[lid] = s;
  workgroupBarrier();
  if (lid == 0u) {
    var t = 0.0;
    for (var j = 0u; j < WG; j++) { t += part[j]; }
    dst[p.base + w] = t;
  }
}

@compute @workgroup_size(FWG)
fn finalize(@builtin(local_invocation_index) lid: u32) {
  var s = 0.0;
  for (var i = lid; i < p.n; i += FWG) { s += src[i]; }
  fpart[lid] = s;
  workgroupBarrier();
  if (lid == 0u) {
    var t = 0.0;
    for (var j = 0u; j < FWG; j++) { t += fpart[j]; }
    let norm = sqrt(t);
    dst[0] = norm;
    var scale = 1.0;
    if (!finite(norm)) {
      scale = 0.0;
    } else if (p.maxNorm > 0.0) {
      scale = min(1.0, p.maxNorm / (norm + 1e-6));
    }
    dst[1] = scale;
  }
}

@compute @workgroup_size(WG)
fn scale_by(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i < p.n) { dst[i] = dst[i] * src[1]; }
}
