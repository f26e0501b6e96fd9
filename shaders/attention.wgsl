// attention.wgsl — causal multi-head attention with grouped-query heads, forward and backward,
// never forming a T×T score matrix.
//
// Shapes: Q, O, dQ, dO: (B, T, Hq, D); K, V, dK, dV: (B, Tk, Hkv, D); LSE, Drow: (B, Hq, T).
// Query head h reads kv head h / (Hq / Hkv). Query i sits at absolute position qOffset + i
// (qOffset = Tk − T: 0 in training, the cache length in KV-cached generation) and sees
// keys 0 ..= qOffset + i. s_ij = scale · q_i·k_j, P = softmax_j(s), O = P V,
// LSE_i = log Σ_j exp(s_ij).
//
// fwd  one thread per (b, h, i): online softmax over the keys (running max m, sum l and
//      a D-vector accumulator in registers, rescaled when m grows), flash-attention style
//      with a key block of one; writes O and LSE. Barrier-free.
// dq   one thread per (b, h, i): Drow_i = dO_i·O_i, then with P_ij = exp(s_ij − LSE_i) and
//      dP_ij = dO_i·v_j:  dQ_i = scale Σ_j P_ij (dP_ij − Drow_i) k_j. Writes Drow for dkv.
// dkv  one thread per (b, g, j) for kv head g and key j: over every query head h of group g
//      and every query i that sees j:  dV_j = Σ P_ij dO_i,  dK_j = scale Σ P_ij (dP_ij − Drow_i) q_i.
//      Each thread owns its output rows: no float atomics.
// Bindings: fwd 1 Q, 2 K, 3 V, 4 O (rw), 5 LSE (rw)
//           dq  1 Q, 2 K, 3 V, 4 O, 5 dO, 6 LSE, 7 Drow (rw), 8 dQ (rw)
//           dkv 1 Q, 2 K, 3 V, 4 dO, 5 LSE, 6 Drow, 7 dK (rw), 8 dV (rw)
// Grid: 1-D over B·Hq·T (fwd, dq) or B·Hkv·Tk (dkv), folded past 65535 workgroups.
// D <= MAXD (128): accumulators are private arrays of MAXD.

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
