// xent.wgsl — softmax cross-entropy computed over vocabulary chunks, with an ignore mask.
//
// The (rows, V) logits need never exist at once: the caller produces them Vc columns at a
// time and each chunk updates a running per-row state (online log-sum-exp).
// Shapes: logits chunk, dlogits chunk: (rows, Vc) covering columns [vOffset, vOffset+Vc);
//   targets: (rows) u32 in [0, V) (validated on the host; a target outside every chunk
//   leaves its logit at 0); mask: (rows) u32, 1 = count this row, 0 = ignore (prompt tokens);
//   state: (rows, 3) = running max m, running Σ exp(x − m), target logit; loss, lse: (rows).
//   chunk_fwd:  state ← merge(state, chunk); first = 1 starts from (−max f32, 0, 0) instead
//               of reading the state
//   finalize:   lse = m + log Σ;  loss = mask ? (m − target logit) + log Σ : 0
//   chunk_bwd:  dlogits = mask ? (exp(x − m) / Σ − [column == target]) · scale : 0
//               (from the state rather than lse: x − m is exact in f32 where logits are
//               near 1e4, x − lse would carry lse's rounding of ~5e-4 into every softmax)
// Merging two partial states (m1, s1), (m2, s2): m = max(m1, m2), s = s1·e^(m1−m) + s2·e^(m2−m).
//
// Variants of chunk_fwd (finalize and chunk_bwd are one thread per output in both):
//   'row' chunk_fwd:    one thread per row; a max pass then an exp pass over the chunk row
//                       (barrier-free; the fastest on SwiftShader).
//   'wg'  chunk_fwd_wg: one workgroup of XWG threads per row; each thread keeps an online
//                       (m, s) over every XWG-th column, then a fixed-order tree merges them
//                       in workgroup memory (XWG a power of two <= 256).
// Bindings: chunk_fwd[_wg] 1 logits, 2 targets, 3 state (rw)
//           finalize       1 state, 2 mask, 3 loss (rw), 4 lse (rw)
//           chunk_bwd      1 logits, 2 state, 3 targets, 4 mask, 5 dlogits (rw)
// Grid: 1-D over rows (chunk_fwd, finalize), rows*Vc (chunk_bwd), folded past 65535:
// i = gid.x + gid.y * nwg.x * WG; chunk_fwd_wg: one workgroup per row, r = wid.x + wid.y·nwg.x.

override WG: u32 = 64;
override XWG: u32 = 64;
const LOWEST: f32 = -3.4028234663852886e38;

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

var<workgroup> red: array<vec2f, 256>;

fn flat(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

/// (m, s) of two partial log-sum-exp states merged.
fn merge(a: vec2f, b: vec2f) -> vec2f {
  let m = max(a.x, b.x);
  return vec2f(m, a.y * exp(a.x - m) + b.y * exp(b.x - m));
}

/// Fold the chunk's (m, s) and target logit into row r's state.
fn store_state(r: u32, chunk: vec2f, o: u32) {
  var st = chunk;
  var t = 0.0;
  if (p.first == 0u) {
    st = merge(vec2f(out3[3u * r], out3[3u * r + 1u]), chunk);
    t = out3[3u * r + 2u];
  }
  let tg = in2u[r];
  if (tg >= p.vOffset && tg - p.vOffset < p.Vc) { t = in1[o + tg - p.vOffset]; }
  out3[3u * r] = st.x;
  out3[3u * r + 1u] = st.y;
  out3[3u * r + 2u] = t;
}

@compute @workgroup_size(WG)
fn chunk_fwd(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let r = flat(gid, nwg);
  if (r >= p.rows) { return; }
  let o = r * p.Vc;
  var m = LOWEST;
  for (var j = 0u; j < p.Vc; j++) { m = max(m, in1[o + j]); }
  var s = 0.0;
  for (var j = 0u; j < p.Vc; j++) { s += exp(in1[o + j] - m); }
  store_state(r, vec2f(m, s), o);
}

@compute @workgroup_size(XWG)
fn chunk_fwd_wg(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let r = wid.x + wid.y * nwg.x;
  if (r >= p.rows) { return; } // uniform: the whole workgroup leaves
  let o = r * p.Vc;
  var m = LOWEST;
  var s = 0.0;
  for (var j = lid; j < p.Vc; j += XWG) {
    let x = in1[o + j];
    if (x > m) {
      s = s * exp(m - x) + 1.0;
      m = x;
    } else {
      s += exp(x - m);
    }
  }
  red[lid] = vec2f(m, s);
  workgroupBarrier();
  for (var k = XWG / 2u; k > 0u; k >>= 1u) {
    if (lid < k) { red[lid] = merge(red[lid], red[lid + k]); }
    workgroupBarrier();
  }
  if (lid == 0u) { store_state(r, red[0], o); }
}

@compute @workgroup_size(WG)
fn finalize(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let r = flat(gid, nwg);
  if (r >= p.rows) { return; }
  // (m − target) first: both are f32 logits, so large logits (1e4) lose nothing there.
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
