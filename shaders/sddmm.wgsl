// sddmm.wgsl — sampled dense-dense matmul: the gradient of a sparse set of weight entries
// (SHiRA) without forming the dense dW.
//
// For a linear layer y = x·Wᵀ with W in [out, in] space, dW = dyᵀ·x, and at K chosen entries
//   vals[k] = alpha · Σ_n dy[n, r_k] · x[n, c_k] + beta · vals[k]      (beta = 0: vals not read)
// Shapes: idx: (K) u32 flat indices into W's *storage*: conv1d 0 (nn.Linear, W stored (out, in)):
//   r = idx / in_f, c = idx % in_f; conv1d 1 (GPT-2 Conv1D, W stored (in, out)):
//   c = idx / out_f, r = idx % out_f.  dy: (N, out_f), x: (N, in_f), vals: (K).
// Algorithm: one thread per sampled entry, a sequential sum over the N rows in f32 (four
// independent partial sums, added in a fixed order: deterministic). An index past
// out_f·in_f writes 0 (host validates lists with buildIndexList).
// Bindings: 0 Params, 1 idx, 2 dy, 3 x, 4 vals (rw).
// Grid: 1-D over K, folded past 65535 workgroups (gid.x + gid.y·nwg.x·WG).

override WG: u32 = 256;

struct Params {
  k: u32,
  n: u32,
  out_f: u32,
  in_f: u32,
  conv1d: u32,
  alpha: f32,
  beta: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> idx: array<u32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read_write> vals: array<f32>;

@compute @workgroup_size(WG)
fn sddmm(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let j = gid.x + gid.y * nwg.x * WG;
  if (j >= p.k) { return; }
  let at = idx[j];
  if (at >= p.out_f * p.in_f) {
    vals[j] = 0.0;
    return;
  }
  var r: u32;
  var c: u32;
  if (p.conv1d == 0u) {
    r = at / p.in_f;
    c = at % p.in_f;
  } else {
    c = at / p.out_f;
    r = at % p.out_f;
  }
  var s0 = 0.0;
  var s1 = 0.0;
  var s2 = 0.0;
  var s3 = 0.0;
  var n = 0u;
  loop {
    if (n + 4u > p.n) { break; }
    s0 += dy[n * p.out_f + r] * x[n * p.in_f + c];
    s1 += dy[(n + 1u) * p.out_f + r] * x[(n + 1u) * p.in_f + c];
    s2 += dy[(n + 2u) * p.out_f + r] * x[(n + 2u) * p.in_f + c];
    s3 += dy[(n + 3u) * p.out_f + r] * x[(n + 3u) * p.in_f + c];
    n += 4u;
  }
  loop {
    if (n >= p.n) { break; }
    s0 += dy[n * p.out_f + r] * x[n * p.in_f + c];
    n += 1u;
  }
  let acc = p.alpha * ((s0 + s1) + (s2 + s3));
  if (p.beta == 0.0) {
    vals[j] = acc;
  } else {
    vals[j] = acc + p.beta * vals[j];
  }
}
