// embedding.wgsl — token embedding gather and its scatter-add backward.
//
// Shapes: ids: (n) u32; table, dtable: (V, C); out, dout: (n, C).
//   gather:  out[i, c] = table[ids[i], c]   (ids[i] >= V writes 0: kernels cannot throw;
//            hosts validate ids with validateTokenIds first)
//   scatter: dtable = beta * dtable + Σ_{i: ids[i] = v} dout[i, :]
// Algorithm: gather is one thread per output element. scatter is one thread per column c
// that owns dtable[:, c]: it scales the column by beta, then walks the tokens in order
// adding dout[i, c] into row ids[i]. No float atomics, deterministic, parallel over C.
// Bindings: gather 1 ids, 2 table, 3 out (rw); scatter 1 ids, 2 dout, 3 dtable (rw)
// Grid: 1-D over n*C (gather) or C (scatter), folded past 65535 workgroups.

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
  dst[e] = select(0.0, src[v * p.C + c], v < p.V);
}

@compute @workgroup_size(WG)
fn scatter(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let c = flat(gid, nwg);
  if (c >= p.C) { return; }
  for (var v = 0u; v < p.V; v++) {
    if (p.beta == 0.0) { dst[v * p.C + c] = 0.0; } else { dst[v * p.C + c] *= p.beta; }
  }
  for (var i = 0u; i < p.n; i++) {
    let v = ids[i];
    if (v < p.V) { dst[v * p.C + c] += src[i * p.C + c]; }
  }
}
