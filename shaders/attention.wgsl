// attention.wgsl — causal multi-head attention with grouped-query heads, forward and backward,
// never forming a T×T score matrix.
//
// Shapes: Q, O, dQ, dO: (B, T, Hq, D); K, V, dK, dV: (B, Tk, Hkv, D); LSE, Drow: (B, Hq, T).
// Query head h reads kv head h / (Hq / Hkv). Query i sits at absolute position qOffset + i
// (qOffset = Tk − T: 0 in training, the cache length in KV-cached generation) and sees
// keys 0 ..= qOffset + i. s_ij = scale · q_i·k_j, P = softmax_j(s), O = P V,
// LSE_i = log Σ_j exp(s_ij).
//
// Passes (each thread owns its output rows: barrier-free, no workgroup memory, no atomics):
// fwd  per query row: online softmax over the keys one at a time (flash-attention style with
//      a key block of one): running max m, running sum l and a D-vector accumulator in
//      private memory; when a score exceeds m, l and the accumulator are rescaled by
//      exp(m_old − m_new). O = acc / l, LSE = m + log l.
// dq   per query row: Drow_i = dO_i·O_i (= Σ_j P_ij dP_ij), then with P_ij = exp(s_ij − LSE_i)
//      recomputed and dP_ij = dO_i·v_j:  dQ_i = scale Σ_j P_ij (dP_ij − Drow_i) k_j.
//      Writes Drow for dkv.
// dkv  per key row j of kv head g: over every query head h of group g and every query i
//      that sees j (i >= j − qOffset), recomputing P_ij from LSE:
//      dV_j = Σ P_ij dO_i,  dK_j = scale Σ P_ij (dP_ij − Drow_i) q_i.
// Cost (causal, Tk = T, c = T(T+1)/2 visible pairs per head): fwd 4·B·Hq·D·c flops
// (QKᵀ, PV); dq 6·B·Hq·D·c (QKᵀ, dO Vᵀ, dS K); dkv 8·B·Hq·D·c (QKᵀ, dO Vᵀ, PᵀdO, dSᵀQ).
//
// Entry points:
//   fwd, dq, dkv     scalar loops, one row per thread, any D <= MAXD.
//   fwd4, dq4, dkv4  D % 4 == 0: rows read as vec4 (a quarter of the loads, which bound the
//                    speed on SwiftShader), and several rows per thread so that every K/V
//                    (or Q/dO) row loaded serves them all: four query rows 4r..4r+3 in fwd4
//                    (running max, sum and LSE as vec4 lanes), two query rows 2r, 2r+1 in
//                    dq4, two key rows 2r, 2r+1 in dkv4. A later query row sees one key more
//                    (a later key row one query fewer); the extra pairs are masked by
//                    zeroing their probability. Rows past the end are clamped to the last
//                    row for reading and not written.
// Bindings: fwd 1 Q, 2 K, 3 V, 4 O (rw), 5 LSE (rw)
//           dq  1 Q, 2 K, 3 V, 4 O, 5 dO, 6 LSE, 7 Drow (rw), 8 dQ (rw)
//           dkv 1 Q, 2 K, 3 V, 4 dO, 5 LSE, 6 Drow, 7 dK (rw), 8 dV (rw)
//           (the *4 entry points the same, through vec4 views of the same bindings)
// Grid: 1-D over B·Hq·T (fwd, dq) or B·Hkv·Tk (dkv) rows; for the *4 entry points over
// B·Hq·⌈T/4⌉ (fwd4), B·Hq·⌈T/2⌉ (dq4), B·Hkv·⌈Tk/2⌉ (dkv4); folded past 65535 workgroups.
// Precision: f32 throughout; scores by plain f32 dot products over D, exp of (s − m) <= 0.
// D <= MAXD (128): accumulators are private arrays of MAXD floats (MAXD4 vec4).

override WG: u32 = 64;
const MAXD: u32 = 128u;

struct Params {
  B: u32,
  T: u32,
  Tk: u32,
  Hq: u32,
  Hkv: u32,
  D: u32,
  qOffset: u32,
  scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> Q: array<f32>;
@group(0) @binding(2) var<storage, read> K: array<f32>;
@group(0) @binding(3) var<storage, read> V: array<f32>;
@group(0) @binding(4) var<storage, read_write> O_out: array<f32>;
@group(0) @binding(4) var<storage, read> O_in: array<f32>;
@group(0) @binding(4) var<storage, read> dO_4: array<f32>;
@group(0) @binding(5) var<storage, read_write> LSE_out: array<f32>;
@group(0) @binding(5) var<storage, read> dO_5: array<f32>;
@group(0) @binding(5) var<storage, read> LSE_5: array<f32>;
@group(0) @binding(6) var<storage, read> LSE_6: array<f32>;
@group(0) @binding(6) var<storage, read> Drow_6: array<f32>;
@group(0) @binding(7) var<storage, read_write> Drow_7: array<f32>;
@group(0) @binding(7) var<storage, read_write> dK: array<f32>;
@group(0) @binding(8) var<storage, read_write> dQ: array<f32>;
@group(0) @binding(8) var<storage, read_write> dV: array<f32>;
// vec4 views for the *4 entry points (D % 4 == 0).
@group(0) @binding(1) var<storage, read> Q4: array<vec4f>;
@group(0) @binding(2) var<storage, read> K4: array<vec4f>;
@group(0) @binding(3) var<storage, read> V4: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> O4_out: array<vec4f>;
@group(0) @binding(4) var<storage, read> O4_in: array<vec4f>;
@group(0) @binding(4) var<storage, read> dO4_4: array<vec4f>;
@group(0) @binding(5) var<storage, read> dO4_5: array<vec4f>;
@group(0) @binding(7) var<storage, read_write> dK4: array<vec4f>;
@group(0) @binding(8) var<storage, read_write> dQ4: array<vec4f>;
@group(0) @binding(8) var<storage, read_write> dV4: array<vec4f>;

fn flat(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

fn qrow(b: u32, i: u32, h: u32) -> u32 { return ((b * p.T + i) * p.Hq + h) * p.D; }
fn krow(b: u32, j: u32, g: u32) -> u32 { return ((b * p.Tk + j) * p.Hkv + g) * p.D; }
fn lrow(b: u32, h: u32, i: u32) -> u32 { return (b * p.Hq + h) * p.T + i; }

@compute @workgroup_size(WG)
fn fwd(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = flat(gid, nwg);
  if (e >= p.B * p.Hq * p.T) { return; }
  let i = e % p.T;
  let h = (e / p.T) % p.Hq;
  let b = e / (p.T * p.Hq);
  let g = h / (p.Hq / p.Hkv);
  let qo = qrow(b, i, h);
  var q: array<f32, MAXD>;
  var acc: array<f32, MAXD>;
  for (var d = 0u; d < p.D; d++) { q[d] = Q[qo + d] * p.scale; acc[d] = 0.0; }
  var m = -3.0e38;
  var l = 0.0;
  let last = min(p.qOffset + i, p.Tk - 1u);
  for (var j = 0u; j <= last; j++) {
    let ko = krow(b, j, g);
    var s = 0.0;
    for (var d = 0u; d < p.D; d++) { s += q[d] * K[ko + d]; }
    let mn = max(m, s);
    let corr = exp(m - mn);
    let pj = exp(s - mn);
    l = l * corr + pj;
    for (var d = 0u; d < p.D; d++) { acc[d] = acc[d] * corr + pj * V[ko + d]; }
    m = mn;
  }
  for (var d = 0u; d < p.D; d++) { O_out[qo + d] = acc[d] / l; }
  LSE_out[lrow(b, h, i)] = m + log(l);
}

@compute @workgroup_size(WG)
fn dq(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = flat(gid, nwg);
  if (e >= p.B * p.Hq * p.T) { return; }
  let i = e % p.T;
  let h = (e / p.T) % p.Hq;
  let b = e / (p.T * p.Hq);
  let g = h / (p.Hq / p.Hkv);
  let qo = qrow(b, i, h);
  var q: array<f32, MAXD>;
  var dO: array<f32, MAXD>;
  var acc: array<f32, MAXD>;
  var Di = 0.0;
  for (var d = 0u; d < p.D; d++) {
    q[d] = Q[qo + d] * p.scale;
    dO[d] = dO_5[qo + d];
    Di += dO[d] * O_in[qo + d];
    acc[d] = 0.0;
  }
  let lse = LSE_6[lrow(b, h, i)];
  let last = min(p.qOffset + i, p.Tk - 1u);
  for (var j = 0u; j <= last; j++) {
    let ko = krow(b, j, g);
    var s = 0.0;
    var dp = 0.0;
    for (var d = 0u; d < p.D; d++) { s += q[d] * K[ko + d]; dp += dO[d] * V[ko + d]; }
    let ds = exp(s - lse) * (dp - Di);
    for (var d = 0u; d < p.D; d++) { acc[d] += ds * K[ko + d]; }
  }
  for (var d = 0u; d < p.D; d++) { dQ[qo + d] = acc[d] * p.scale; }
  Drow_7[lrow(b, h, i)] = Di;
}

@compute @workgroup_size(WG)
fn dkv(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = flat(gid, nwg);
  if (e >= p.B * p.Hkv * p.Tk) { return; }
  let j = e % p.Tk;
  let g = (e / p.Tk) % p.Hkv;
  let b = e / (p.Tk * p.Hkv);
  let ko = krow(b, j, g);
  var k: array<f32, MAXD>;
  var v: array<f32, MAXD>;
  var dk: array<f32, MAXD>;
  var dv: array<f32, MAXD>;
  for (var d = 0u; d < p.D; d++) { k[d] = K[ko + d]; v[d] = V[ko + d]; dk[d] = 0.0; dv[d] = 0.0; }
  let group = p.Hq / p.Hkv;
  // Queries with qOffset + i >= j see key j.
  var first = 0u;
  if (j > p.qOffset) { first = j - p.qOffset; }
  for (var hh = 0u; hh < group; hh++) {
    let h = g * group + hh;
    for (var i = first; i < p.T; i++) {
      let qo = qrow(b, i, h);
      var s = 0.0;
      var dp = 0.0;
      for (var d = 0u; d < p.D; d++) { s += Q[qo + d] * k[d]; dp += dO_4[qo + d] * v[d]; }
      let li = lrow(b, h, i);
      let pij = exp(s * p.scale - LSE_5[li]);
      let ds = pij * (dp - Drow_6[li]);
      for (var d = 0u; d < p.D; d++) {
        dv[d] += pij * dO_4[qo + d];
        dk[d] += ds * Q[qo + d];
      }
    }
  }
  for (var d = 0u; d < p.D; d++) { dK[ko + d] = dk[d] * p.scale; dV[ko + d] = dv[d]; }
}

// ---- vec4 variants: same passes, rows read and accumulated four dims at a time (D % 4 == 0).
// Row offsets below are in vec4 units (element offset / 4).

const MAXD4: u32 = 32u;

@compute @workgroup_size(WG)
fn dq4(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let T2 = (p.T + 1u) / 2u;
  let e = flat(gid, nwg);
  if (e >= p.B * p.Hq * T2) { return; }
  let i0 = (e % T2) * 2u;
  let h = (e / T2) % p.Hq;
  let b = e / (T2 * p.Hq);
  let g = h / (p.Hq / p.Hkv);
  let two = i0 + 1u < p.T;
  let i1 = select(i0, i0 + 1u, two);
  let D4 = p.D / 4u;
  let qo0 = qrow(b, i0, h) / 4u;
  let qo1 = qrow(b, i1, h) / 4u;
  var q0: array<vec4f, MAXD4>;
  var q1: array<vec4f, MAXD4>;
  var g0: array<vec4f, MAXD4>;
  var g1: array<vec4f, MAXD4>;
  var a0: array<vec4f, MAXD4>;
  var a1: array<vec4f, MAXD4>;
  var D0 = vec4f(0.0);
  var D1 = vec4f(0.0);
  for (var d = 0u; d < D4; d++) {
    q0[d] = Q4[qo0 + d] * p.scale;
    q1[d] = Q4[qo1 + d] * p.scale;
    g0[d] = dO4_5[qo0 + d];
    g1[d] = dO4_5[qo1 + d];
    D0 += g0[d] * O4_in[qo0 + d];
    D1 += g1[d] * O4_in[qo1 + d];
    a0[d] = vec4f(0.0);
    a1[d] = vec4f(0.0);
  }
  let Di = vec2f(D0.x + D0.y + D0.z + D0.w, D1.x + D1.y + D1.z + D1.w);
  let lse = vec2f(LSE_6[lrow(b, h, i0)], LSE_6[lrow(b, h, i1)]);
  let last0 = p.qOffset + i0;
  let last1 = p.qOffset + i1;
  for (var j = 0u; j <= last1; j++) {
    let ko = krow(b, j, g) / 4u;
    var s0 = vec4f(0.0);
    var s1 = vec4f(0.0);
    var p0 = vec4f(0.0);
    var p1 = vec4f(0.0);
    for (var d = 0u; d < D4; d++) {
      let kk = K4[ko + d];
      let vv = V4[ko + d];
      s0 += q0[d] * kk;
      s1 += q1[d] * kk;
      p0 += g0[d] * vv;
      p1 += g1[d] * vv;
    }
    let s = vec2f(s0.x + s0.y + s0.z + s0.w, s1.x + s1.y + s1.z + s1.w);
    let dp = vec2f(p0.x + p0.y + p0.z + p0.w, p1.x + p1.y + p1.z + p1.w);
    var ds = exp(s - lse) * (dp - Di);
    if (j > last0) { ds.x = 0.0; }
    for (var d = 0u; d < D4; d++) { let kk = K4[ko + d]; a0[d] += ds.x * kk; a1[d] += ds.y * kk; }
  }
  for (var d = 0u; d < D4; d++) { dQ4[qo0 + d] = a0[d] * p.scale; }
  Drow_7[lrow(b, h, i0)] = Di.x;
  if (two) {
    for (var d = 0u; d < D4; d++) { dQ4[qo1 + d] = a1[d] * p.scale; }
    Drow_7[lrow(b, h, i1)] = Di.y;
  }
}

@compute @workgroup_size(WG)
fn dkv4(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let T2 = (p.Tk + 1u) / 2u;
  let e = flat(gid, nwg);
  if (e >= p.B * p.Hkv * T2) { return; }
  let j0 = (e % T2) * 2u;
  let g = (e / T2) % p.Hkv;
  let b = e / (T2 * p.Hkv);
  let two = j0 + 1u < p.Tk;
  let j1 = select(j0, j0 + 1u, two);
  let D4 = p.D / 4u;
  let ko0 = krow(b, j0, g) / 4u;
  let ko1 = krow(b, j1, g) / 4u;
  var k0: array<vec4f, MAXD4>;
  var k1: array<vec4f, MAXD4>;
  var v0: array<vec4f, MAXD4>;
  var v1: array<vec4f, MAXD4>;
  var dk0: array<vec4f, MAXD4>;
  var dk1: array<vec4f, MAXD4>;
  var dv0: array<vec4f, MAXD4>;
  var dv1: array<vec4f, MAXD4>;
  for (var d = 0u; d < D4; d++) {
    k0[d] = K4[ko0 + d] * p.scale;
    k1[d] = K4[ko1 + d] * p.scale;
    v0[d] = V4[ko0 + d];
    v1[d] = V4[ko1 + d];
    dk0[d] = vec4f(0.0);
    dk1[d] = vec4f(0.0);
    dv0[d] = vec4f(0.0);
    dv1[d] = vec4f(0.0);
  }
  let group = p.Hq / p.Hkv;
  // Query i sees key j when qOffset + i >= j; key j1 = j0 + 1 is seen from one query later.
  var first = 0u;
  if (j0 > p.qOffset) { first = j0 - p.qOffset; }
  for (var hh = 0u; hh < group; hh++) {
    let h = g * group + hh;
    for (var i = first; i < p.T; i++) {
      let qo = qrow(b, i, h) / 4u;
      var s0 = vec4f(0.0);
      var s1 = vec4f(0.0);
      var p0 = vec4f(0.0);
      var p1 = vec4f(0.0);
      for (var d = 0u; d < D4; d++) {
        let qq = Q4[qo + d];
        let gg = dO4_4[qo + d];
        s0 += qq * k0[d];
        s1 += qq * k1[d];
        p0 += gg * v0[d];
        p1 += gg * v1[d];
      }
      let li = lrow(b, h, i);
      let s = vec2f(s0.x + s0.y + s0.z + s0.w, s1.x + s1.y + s1.z + s1.w);
      let dp = vec2f(p0.x + p0.y + p0.z + p0.w, p1.x + p1.y + p1.z + p1.w);
      var pij = exp(s - LSE_5[li]);
      if (p.qOffset + i < j1) { pij.y = 0.0; }
      let ds = pij * (dp - Drow_6[li]);
      for (var d = 0u; d < D4; d++) {
        let qq = Q4[qo + d];
        let gg = dO4_4[qo + d];
        dv0[d] += pij.x * gg;
        dv1[d] += pij.y * gg;
        dk0[d] += ds.x * qq;
        dk1[d] += ds.y * qq;
      }
    }
  }
  for (var d = 0u; d < D4; d++) { dK4[ko0 + d] = dk0[d] * p.scale; dV4[ko0 + d] = dv0[d]; }
  if (two) {
    for (var d = 0u; d < D4; d++) { dK4[ko1 + d] = dk1[d] * p.scale; dV4[ko1 + d] = dv1[d]; }
  }
}

@compute @workgroup_size(WG)
fn fwd4(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let T4 = (p.T + 3u) / 4u;
  let e = flat(gid, nwg);
  if (e >= p.B * p.Hq * T4) { return; }
  let i0 = (e % T4) * 4u;
  let h = (e / T4) % p.Hq;
  let b = e / (T4 * p.Hq);
  let g = h / (p.Hq / p.Hkv);
  let iv = min(vec4u(i0, i0 + 1u, i0 + 2u, i0 + 3u), vec4u(p.T - 1u));
  let D4 = p.D / 4u;
  let qo = vec4u(qrow(b, iv.x, h), qrow(b, iv.y, h), qrow(b, iv.z, h), qrow(b, iv.w, h)) / 4u;
  var q0: array<vec4f, MAXD4>;
  var q1: array<vec4f, MAXD4>;
  var q2: array<vec4f, MAXD4>;
  var q3: array<vec4f, MAXD4>;
  var a0: array<vec4f, MAXD4>;
  var a1: array<vec4f, MAXD4>;
  var a2: array<vec4f, MAXD4>;
  var a3: array<vec4f, MAXD4>;
  for (var d = 0u; d < D4; d++) {
    q0[d] = Q4[qo.x + d] * p.scale; q1[d] = Q4[qo.y + d] * p.scale;
    q2[d] = Q4[qo.z + d] * p.scale; q3[d] = Q4[qo.w + d] * p.scale;
    a0[d] = vec4f(0.0); a1[d] = vec4f(0.0); a2[d] = vec4f(0.0); a3[d] = vec4f(0.0);
  }
  var m = vec4f(0.0);
  var l = vec4f(0.0);
  let last = vec4u(p.qOffset) + iv;
  for (var j = 0u; j <= last.w; j++) {
    let ko = krow(b, j, g) / 4u;
    var s0 = vec4f(0.0);
    var s1 = vec4f(0.0);
    var s2 = vec4f(0.0);
    var s3 = vec4f(0.0);
    for (var d = 0u; d < D4; d++) {
      let kk = K4[ko + d];
      s0 += q0[d] * kk; s1 += q1[d] * kk; s2 += q2[d] * kk; s3 += q3[d] * kk;
    }
    let s = vec4f(dot(s0, vec4f(1.0)), dot(s1, vec4f(1.0)), dot(s2, vec4f(1.0)), dot(s3, vec4f(1.0)));
    let live = vec4u(j) <= last;
    if (j == 0u) { m = s; }
    let up = live & (s > m);
    if (any(up)) {
      let mn = select(m, s, up);
      let c = exp(m - mn);
      l *= c;
      for (var d = 0u; d < D4; d++) { a0[d] *= c.x; a1[d] *= c.y; a2[d] *= c.z; a3[d] *= c.w; }
      m = mn;
    }
    let pj = select(vec4f(0.0), exp(s - m), live);
    l += pj;
    for (var d = 0u; d < D4; d++) {
      let vv = V4[ko + d];
      a0[d] += pj.x * vv; a1[d] += pj.y * vv; a2[d] += pj.z * vv; a3[d] += pj.w * vv;
    }
  }
  let inv = 1.0 / l;
  let lse = m + log(l);
  for (var d = 0u; d < D4; d++) { O4_out[qo.x + d] = a0[d] * inv.x; }
  LSE_out[lrow(b, h, iv.x)] = lse.x;
  if (i0 + 1u < p.T) { for (var d = 0u; d < D4; d++) { O4_out[qo.y + d] = a1[d] * inv.y; } LSE_out[lrow(b, h, iv.y)] = lse.y; }
  if (i0 + 2u < p.T) { for (var d = 0u; d < D4; d++) { O4_out[qo.z + d] = a2[d] * inv.z; } LSE_out[lrow(b, h, iv.z)] = lse.z; }
  if (i0 + 3u < p.T) { for (var d = 0u; d < D4; d++) { O4_out[qo.w + d] = a3[d] * inv.w; } LSE_out[lrow(b, h, iv.w)] = lse.w; }
}
