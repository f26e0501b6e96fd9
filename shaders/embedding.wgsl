// embedding.wgsl — token embedding gather and its deterministic scatter-add backward.
//
// Shapes: ids: (n) u32; table, dtable: (V, C); out, dout: (n, C).
//   gather:      out[i, c] = table[ids[i], c]; an id >= V writes zeros (kernels cannot
//                throw: hosts check ids with validateTokenIds before uploading them)
//   scale_table: dtable = beta * dtable over all V*C entries (beta = 0 writes zeros and
//                never reads dtable, which may hold NaN from a pooled buffer)
//   scatter:     dtable[ids[i], c] += dout[i, c] for i = 0..n-1 in order (ids >= V skipped)
// Backward = scale_table (skipped by the wrapper when beta = 1) then scatter.
// Algorithm: gather and scale_table are one thread per element. scatter is one thread per
// column c that owns dtable[:, c] and walks the tokens in order: no float atomics, the
// same summation order on every device, and adjacent threads touch adjacent addresses.
// Bindings: gather 1 ids, 2 table, 3 out (rw); scale_table 3 dtable (rw);
//           scatter 1 ids, 2 dout, 3 dtable (rw)
// Grid: 1-D over n*C (gather), V*C (scale_table) or C (scatter), folded past 65535
// workgroups: i = gid.x + gid.y * nwg.x * WG.

override WG: u32 = 256;

struct Params {
  n: u32,
  C: u32,
  V: u32,
  beta: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> ids: array<u32>;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

fn flat(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

@compute @workgroup_size(WG)
fn gather(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = flat(gid, nwg);
  if (e >= p.n * p.C) { return; }
  let i = e / p.C;
  let c = e % p.C;
  let v = ids[i];
  var val = 0.0;
  if (v < p.V) { val = src[v * p.C + c]; }
  dst[e] = val;
}

@compute @workgroup_size(WG)
fn scale_table(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = flat(gid, nwg);
  if (e >= p.V * p.C) { return; }
  var val = 0.0;
  if (p.beta != 0.0) { val = p.beta * dst[e]; }
  dst[e] = val;
}

@compute @workgroup_size(WG)
fn scatter(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let c = flat(gid, nwg);
  if (c >= p.C) { return; }
  for (var i = 0u; i < p.n; i++) {
    let v = ids[i];
    if (v < p.V) { dst[v * p.C + c] += src[i * p.C + c]; }
  }
}
