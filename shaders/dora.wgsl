// dora.wgsl — the per-output-row pieces of DoRA (Liu et al. 2024) around a linear layer
// y = x·Wᵀ + b with a LoRA term s·x·Aᵀ·Bᵀ:  y' = c ⊙ (x·Wᵀ + s·x·Aᵀ·Bᵀ) + b,  c = m / n,
// n_o = ‖W_o + s·(B·A)_o‖ over the input dimension (row o of the (out, in) weight), with n
// treated as a constant in backward (DoRA §4.3, as Hugging Face PEFT does).
//
// Entry points (binding 0 is always Params):
//   sumsq:    1 W (read) 2 w2 (rw)    w2[o] = beta·w2[o] + Σ_{j<rows} W[j·sRow + o·sCol]²
//             for o < cols (beta = 0 never reads w2). One thread per o, j in order.
//             (out, in) weight: rows = in, sRow = 1, sCol = in; (in, out): sRow = out, sCol = 1.
//   sqrt_into: 1 w2 (read) 2 m (rw)   m[o] = sqrt(w2[o]) for o < cols
//   norm:     1 w2 2 B 3 P 4 H (read) 5 m (read) 6 c (rw) 7 inv (rw), for o < cols (= out):
//             n² = w2[o] + Σ_k B[o,k]·(2s·P[k,o] + s²·H[o,k]),  n = sqrt(max(n², 0)),
//             c[o] = m[o] / n, inv[o] = 1 / n.
//             Shapes: w2, m, c, inv: (out); B: (out, r); P = A·Wᵀ: (r, out); H = B·(A·Aᵀ): (out, r).
//             (‖W_o + sΔ_o‖² = ‖W_o‖² + 2s·W_o·Δ_o + s²‖Δ_o‖², Δ = B·A, never formed.)
//   combine:  1 b (read) 2 c (read) 3 z (rw) 4 y (rw), for i < n = rows·cols, o = i % cols:
//             v = y[i] − b[o] + z[i] (no b when HAS_BIAS is false);  z[i] = v;  y[i] = c[o]·v + b[o]
//             y: (rows, cols) the base output x·Wᵀ + b; z: (rows, cols) s·x·Aᵀ·Bᵀ in, v out.
//   bwd_scale: 1 dy 2 c (read) 3 dv (rw) 4 e (rw), for i < n:  dv = c[o]·dy,  e = (c[o] − 1)·dy
//   bwd_dm:   1 dy 2 v 3 inv (read) 4 dm (rw), for o < cols:  dm[o] = inv[o]·Σ_{j<rows} dy[j,o]·v[j,o]
//             (one thread per column, rows in order: deterministic, no atomics)
// Params: n (elements or outputs), rows, cols, r, sRow, sCol, s (f32), beta (f32).
// Grid: 1-D, folded into y past 65535 workgroups: i = gid.x + gid.y · nwg.x · WG.

override WG: u32 = 64;
override HAS_BIAS: bool = false;

struct Params {
  n: u32,
  rows: u32,
  cols: u32,
  r: u32,
  sRow: u32,
  sCol: u32,
  s: f32,
  beta: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> in1: array<f32>;
@group(0) @binding(2) var<storage, read> in2: array<f32>;
@group(0) @binding(3) var<storage, read> in3: array<f32>;
@group(0) @binding(4) var<storage, read> in4: array<f32>;
@group(0) @binding(5) var<storage, read> in5: array<f32>;
@group(0) @binding(2) var<storage, read_write> rw2: array<f32>;
@group(0) @binding(3) var<storage, read_write> rw3: array<f32>;
@group(0) @binding(4) var<storage, read_write> rw4: array<f32>;
@group(0) @binding(6) var<storage, read_write> rw6: array<f32>;
@group(0) @binding(7) var<storage, read_write> rw7: array<f32>;

fn flat(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

@compute @workgroup_size(WG)
fn sumsq(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let o = flat(gid, nwg);
  if (o >= p.cols) { return; }
  var acc = 0.0;
  for (var j = 0u; j < p.rows; j++) {
    let w = in1[j * p.sRow + o * p.sCol];
    acc += w * w;
  }
  if (p.beta != 0.0) { acc += p.beta * rw2[o]; }
  rw2[o] = acc;
}

@compute @workgroup_size(WG)
fn sqrt_into(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let o = flat(gid, nwg);
  if (o < p.cols) { rw2[o] = sqrt(in1[o]); }
}

@compute @workgroup_size(WG)
fn norm(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let o = flat(gid, nwg);
  if (o >= p.cols) { return; }
  var cross = 0.0;
  for (var k = 0u; k < p.r; k++) {
    cross += in2[o * p.r + k] * (2.0 * p.s * in3[k * p.cols + o] + p.s * p.s * in4[o * p.r + k]);
  }
  let n = sqrt(max(in1[o] + cross, 0.0));
  rw6[o] = in5[o] / n;
  rw7[o] = 1.0 / n;
}

@compute @workgroup_size(WG)
fn combine(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat(gid, nwg);
  if (i >= p.n) { return; }
  let o = i % p.cols;
  var v = rw4[i] + rw3[i];
  var b = 0.0;
  if (HAS_BIAS) {
    b = in1[o];
    v = (rw4[i] - b) + rw3[i];
  }
  rw3[i] = v;
  rw4[i] = in2[o] * v + b;
}

@compute @workgroup_size(WG)
fn bwd_scale(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat(gid, nwg);
  if (i >= p.n) { return; }
  let c = in2[i % p.cols];
  let d = in1[i];
  rw3[i] = c * d;
  rw4[i] = (c - 1.0) * d;
}

@compute @workgroup_size(WG)
fn bwd_dm(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let o = flat(gid, nwg);
  if (o >= p.cols) { return; }
  var acc = 0.0;
  for (var j = 0u; j < p.rows; j++) {
    acc += in1[j * p.cols + o] * in2[j * p.cols + o];
  }
  rw4[o] = in3[o] * acc;
}
