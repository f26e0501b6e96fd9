// sparse.wgsl — masked sparse updates (SHiRA-style): only listed entries of a dense weight
// move; everything else stays bit-identical.
//
// Shapes: idx: (k) u32, unique flat indices into W: (n); vals: (k).
//   gather:      vals[j] = W[idx[j]]
//   scatter:     W[idx[j]] = vals[j]
//   scatter_add: W[idx[j]] += alpha · vals[j]
// Indices are unique (validated on the host by buildIndexList), so threads never collide and
// entries not listed are never read or written: they stay bit-identical. An index past W's
// binding is skipped (gather writes 0), so a bad list can never clamp onto a real entry;
// buildIndexList is where bad lists are reported.
// Bindings: gather 1 idx, 2 W, 3 vals (rw); scatter, scatter_add 1 idx, 2 vals, 3 W (rw)
// Grid: 1-D over k, folded past 65535 workgroups.

override WG: u32 = 256;

struct Params {
  k: u32,
  alpha: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> idx: array<u32>;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

fn flat(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

@compute @workgroup_size(WG)
fn gather(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let j = flat(gid, nwg);
  if (j >= p.k) { return; }
  let at = idx[j];
  dst[j] = select(0.0, src[at], at < arrayLength(&src));
}

@compute @workgroup_size(WG)
fn scatter(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let j = flat(gid, nwg);
  if (j >= p.k) { return; }
  let at = idx[j];
  if (at < arrayLength(&dst)) { dst[at] = src[j]; }
}

@compute @workgroup_size(WG)
fn scatter_add(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let j = flat(gid, nwg);
  if (j >= p.k) { return; }
  let at = idx[j];
  if (at < arrayLength(&dst)) { dst[at] += p.alpha * src[j]; }
}
