// attention_decode.wgsl — flash-decoding: attention of a few new query rows (T <= 8: a
// generated token, a short prompt chunk) over a long KV cache, split across the keys so that
// a long context spreads over many threads, then combined. Same results as attention.wgsl's
// fwd (causal, grouped-query heads; query i at position qOffset + i sees keys 0 ..= qOffset + i).
//
// Shapes (B = 1): Q, O: (T, Hq, D); K, V: the cache, (capacity >= Tk, Hkv, D), rows 0 .. Tk−1
// valid; LSE: (Hq, T); part: scratch, S splits per (row, head):
//   acc  at [((i·Hq + h)·S + s)·D + d]            (unnormalised Σ_j e^(s_ij − m) v_j)
//   m, l at [S·T·Hq·D + ((i·Hq + h)·S + s)·4 + {0, 1}]  (a vec4 slot each, so that a pass
//                                                     touches `part` through one view)
// Passes:
//   split    a thread per (query row i, head h, split s): keys s·CH .. min((s+1)·CH, last+1)
//            with an online softmax (running max m, sum l, D-vector acc) as in attention.wgsl's
//            fwd; an empty split writes m = lowest f32, l = 0, acc = 0.
//   combine  a thread per (i, h): M = max_s m_s, L = Σ_s l_s e^(m_s − M),
//            O = Σ_s acc_s e^(m_s − M) / L, LSE = M + log L.
// Both read rows as vec4 (D % 4 == 0; other head dims take attention.wgsl's fwd) and keep the
// query row and accumulator in private arrays of D/4 <= 32 vec4 (like fwd4).
// Bindings: split   1 Q, 2 K, 3 V, 4 part (rw)
//           combine 1 part, 2 O (rw), 3 LSE (rw)
// Grid: split 1-D over T·Hq·S threads, combine over T·Hq (folded past 65535 workgroups).

override WG: u32 = 64;
const MAXD4: u32 = 32u;
const LOWEST: f32 = -3.4028234663852886e38;

struct Params {
  T: u32,
  Tk: u32,
  Hq: u32,
  Hkv: u32,
  D: u32,
  qOffset: u32,
  S: u32,   // splits
  CH: u32,  // keys per split
  scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> Q4: array<vec4f>;
@group(0) @binding(2) var<storage, read> K4: array<vec4f>;
@group(0) @binding(3) var<storage, read> V4: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> Pw4: array<vec4f>;
@group(0) @binding(1) var<storage, read> Pr4: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> O4: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> LSE: array<f32>;

fn flat(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

@compute @workgroup_size(WG)
fn split(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = flat(gid, nwg);
  if (e >= p.T * p.Hq * p.S) { return; }
  let s = e % p.S;
  let row = e / p.S;  // i · Hq + h
  let h = row % p.Hq;
  let i = row / p.Hq;
  let g = h / (p.Hq / p.Hkv);
  let D4 = p.D / 4u;
  var q: array<vec4f, MAXD4>;
  var acc: array<vec4f, MAXD4>;
  let qo = row * D4;
  for (var d = 0u; d < D4; d++) { q[d] = Q4[qo + d] * p.scale; acc[d] = vec4f(0.0); }
  var m = LOWEST;
  var l = 0.0;
  let end = min((s + 1u) * p.CH, p.qOffset + i + 1u);
  for (var j = s * p.CH; j < end; j++) {
    let ko = (j * p.Hkv + g) * D4;
    var sv = vec4f(0.0);
    for (var d = 0u; d < D4; d++) { sv += q[d] * K4[ko + d]; }
    let sc = (sv.x + sv.y) + (sv.z + sv.w);
    let mn = max(m, sc);
    let corr = exp(m - mn);
    let pj = exp(sc - mn);
    l = l * corr + pj;
    for (var d = 0u; d < D4; d++) { acc[d] = acc[d] * corr + pj * V4[ko + d]; }
    m = mn;
  }
  let po = e * D4;
  for (var d = 0u; d < D4; d++) { Pw4[po + d] = acc[d]; }
  Pw4[(p.S * p.T * p.Hq * p.D) / 4u + e] = vec4f(m, l, 0.0, 0.0);
}

@compute @workgroup_size(WG)
fn combine(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let row = flat(gid, nwg);
  if (row >= p.T * p.Hq) { return; }
  let h = row % p.Hq;
  let i = row / p.Hq;
  let D4 = p.D / 4u;
  let ml = (p.S * p.T * p.Hq * p.D) / 4u + row * p.S;
  var M = LOWEST;
  for (var s = 0u; s < p.S; s++) { M = max(M, Pr4[ml + s].x); }
  var L = 0.0;
  var o: array<vec4f, MAXD4>;
  for (var d = 0u; d < D4; d++) { o[d] = vec4f(0.0); }
  for (var s = 0u; s < p.S; s++) {
    let ms = Pr4[ml + s];
    let l = ms.y;
    if (l == 0.0) { continue; }  // an empty split (its m is the lowest f32)
    let w = exp(ms.x - M);
    L += l * w;
    let po = (row * p.S + s) * D4;
    for (var d = 0u; d < D4; d++) { o[d] += w * Pr4[po + d]; }
  }
  for (var d = 0u; d < D4; d++) { O4[row * D4 + d] = o[d] / L; }
  LSE[h * p.T + i] = M + log(L);
}
