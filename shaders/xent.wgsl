// xent.wgsl — softmax cross-entropy computed over vocabulary chunks, with an ignore mask.
//
// The (rows, V) logits need never exist at once: the caller produces them Vc columns at a
// time and each chunk updates a running per-row state (online log-sum-exp).
// Shapes: logits chunk, dlogits chunk: (rows, Vc) covering columns [vOffset, vOffset+Vc);
//   targets: (rows) u32; mask: (rows) u32, 1 = count this row, 0 = ignore (prompt tokens);
//   state: (rows, 3) = running max, running Σ exp(x − max), target logit; loss, lse: (rows).
//   chunk_fwd:  state ← merge(state, chunk); FIRST = 1 starts from (−inf, 0, 0)
//   finalize:   lse = max + log Σ;  loss = mask ? (max − target logit) + log Σ : 0
//   chunk_bwd:  dlogits = mask ? (exp(x − max) / Σ − [column == target]) · scale : 0
//               (from the state rather than lse, so logits near 1e4 keep full precision)
// Bindings: chunk_fwd 1 logits, 2 targets, 3 state (rw)
//           finalize  1 state, 2 mask, 3 loss (rw), 4 lse (rw)
//           chunk_bwd 1 logits, 2 state, 3 targets, 4 mask, 5 dlogits (rw)
// Grid: 1-D over rows (chunk_fwd, finalize) or rows*Vc (chunk_bwd), folded past 65535.

override WG: u32 = 64;

struct Params {
  rows: u32,
  Vc: u32,
  vOffset: u32,
  first: u32,
  scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> in1: array<f32>;
@group(0) @binding(2) var<storage, read> in2u: array<u32>;
@group(0) @binding(2) var<storage, read> in2f: array<f32>;
@group(0) @binding(3) var<storage, read_write> out3: array<f32>;
@group(0) @binding(3) var<storage, read> in3u: array<u32>;
@group(0) @binding(4) var<storage, read_write> out4: array<f32>;
@group(0) @binding(4) var<storage, read> in4u: array<u32>;
@group(0) @binding(5) var<storage, read_write> out5: array<f32>;

fn flat(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

@compute @workgroup_size(WG)
fn chunk_fwd(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let r = flat(gid, nwg);
  if (r >= p.rows) { return; }
  let o = r * p.Vc;
  var cm = in1[o];
  for (var j = 1u; j < p.Vc; j++) { cm = max(cm, in1[o + j]); }
  var m = cm;
  var s = 0.0;
  var t = 0.0;
  if (p.first == 0u) {
    m = max(out3[3u * r], cm);
    s = out3[3u * r + 1u] * exp(out3[3u * r] - m);
    t = out3[3u * r + 2u];
  }
  for (var j = 0u; j < p.Vc; j++) { s += exp(in1[o + j] - m); }
  let tg = in2u[r];
  if (tg >= p.vOffset && tg < p.vOffset + p.Vc) { t = in1[o + tg - p.vOffset]; }
  out3[3u * r] = m;
  out3[3u * r + 1u] = s;
  out3[3u * r + 2u] = t;
}

@compute @workgroup_size(WG)
fn finalize(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let r = flat(gid, nwg);
  if (r >= p.rows) { return; }
  // (max − target) first: both are f32 logits, so large logits (1e4) lose nothing there.
  let ls = log(in1[3u * r + 1u]);
  out4[r] = in1[3u * r] + ls;
  out3[r] = select(0.0, (in1[3u * r] - in1[3u * r + 2u]) + ls, in2u[r] != 0u);
}

@compute @workgroup_size(WG)
fn chunk_bwd(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = flat(gid, nwg);
  if (e >= p.rows * p.Vc) { return; }
  let r = e / p.Vc;
  let col = p.vOffset + e % p.Vc;
  var d = 0.0;
  if (in4u[r] != 0u) {
    d = exp(in1[e] - in2f[3u * r]) / in2f[3u * r + 1u];
    if (col == in3u[r]) { d -= 1.0; }
    d *= p.scale;
  }
  out5[e] = d;
}
