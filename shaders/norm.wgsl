// norm.wgsl — RMSNorm (Llama: y = x·rstd·w, not 1 + w) and LayerNorm (GPT-2), forward
// and backward, in two variants of the same math.
//
// Shapes: x, y, dy, dx: (rows, C); w, b, dw, db: (C); mean, rstd: (rows).
//   rms_fwd:   y = x * rstd * w,            rstd = 1 / sqrt(mean(x²) + eps)
//   rms_bwd:   dx = rstd * (dy*w - x * rstd² * mean(dy*w*x))
//   ln_fwd:    y = (x - mean) * rstd * w + b, rstd = 1 / sqrt(mean((x - mean)²) + eps)
//              (two passes over the row: mean first, then the centred variance)
//   ln_bwd:    xh = (x - mean) * rstd, g = dy*w:  dx = rstd * (g - mean(g) - xh * mean(g*xh))
//   rms_wgrad: dw[c] = beta*dw[c] + Σ_rows dy * x * rstd
//   ln_wgrad:  dw[c] = beta*dw[c] + Σ_rows dy * (x - mean) * rstd,  db[c] = beta*db[c] + Σ_rows dy
//   (beta = 0 never reads dw / db; the weight gradients are separate kernels so that no
//    float atomics are needed and every sum has a fixed order: deterministic.)
//
// Variant 'row' (entry points without suffix), barrier-free, for SwiftShader and small C:
//   row kernels: one thread per row, loops over C in registers. Grid 1-D over rows.
//   *_wgrad:     one thread per column, loops over rows. Grid 1-D over C.
// Variant 'wg' (entry points *_wg), for real GPUs where one thread per row leaves the
// device idle and reads rows with a stride:
//   row kernels: one workgroup of RWG threads per row; threads stride over C (coalesced),
//                partial sums meet in a tree reduction in workgroup memory.
//                Grid: one workgroup per row, folded past 65535 (row = wid.x + wid.y·nwg.x).
//   *_wgrad_wg:  a workgroup of (WC, WR) threads owns WC columns; its WR row lanes each sum
//                every WR-th row, then the lanes are added in a fixed tree. Grid: ceil(C/WC).
// RWG and WR must be powers of two; RWG <= 256 and WC*WR <= 256 (workgroup array size).
//
// Bindings (both variants):
//   rms_fwd:   1 x, 2 w, 3 y (rw), 4 rstd (rw)
//   ln_fwd:    1 x, 2 w, 3 b, 4 y (rw), 5 mean (rw), 6 rstd (rw)
//   rms_bwd:   1 dy, 2 x, 3 w, 4 rstd, 5 dx (rw)
//   ln_bwd:    1 dy, 2 x, 3 w, 4 mean, 5 rstd, 6 dx (rw)
//   rms_wgrad: 1 dy, 2 x, 3 rstd, 4 dw (rw)
//   ln_wgrad:  1 dy, 2 x, 3 mean, 4 rstd, 5 dw (rw), 6 db (rw)

override WG: u32 = 64;
override RWG: u32 = 64;
override WC: u32 = 32;
override WR: u32 = 8;

struct Params {
  rows: u32,
  C: u32,
  eps: f32,
  beta: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> in1: array<f32>;
@group(0) @binding(2) var<storage, read> in2: array<f32>;
@group(0) @binding(3) var<storage, read> in3: array<f32>;
@group(0) @binding(3) var<storage, read_write> out3: array<f32>;
@group(0) @binding(4) var<storage, read> in4: array<f32>;
@group(0) @binding(4) var<storage, read_write> out4: array<f32>;
@group(0) @binding(5) var<storage, read> in5: array<f32>;
@group(0) @binding(5) var<storage, read_write> out5: array<f32>;
@group(0) @binding(6) var<storage, read_write> out6: array<f32>;

var<workgroup> red: array<vec2f, 256>;

fn flat(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

// ---- variant 'row' -------------------------------------------------------------------

@compute @workgroup_size(WG)
fn rms_fwd(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let r = flat(gid, nwg);
  if (r >= p.rows) { return; }
  let o = r * p.C;
  var ss = 0.0;
  for (var c = 0u; c < p.C; c++) { let v = in1[o + c]; ss += v * v; }
  let rs = inverseSqrt(ss / f32(p.C) + p.eps);
  for (var c = 0u; c < p.C; c++) { out3[o + c] = in1[o + c] * rs * in2[c]; }
  out4[r] = rs;
}

@compute @workgroup_size(WG)
fn ln_fwd(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let r = flat(gid, nwg);
  if (r >= p.rows) { return; }
  let o = r * p.C;
  var s = 0.0;
  for (var c = 0u; c < p.C; c++) { s += in1[o + c]; }
  let mu = s / f32(p.C);
  var vs = 0.0;
  for (var c = 0u; c < p.C; c++) { let d = in1[o + c] - mu; vs += d * d; }
  let rs = inverseSqrt(vs / f32(p.C) + p.eps);
  for (var c = 0u; c < p.C; c++) { out4[o + c] = (in1[o + c] - mu) * rs * in2[c] + in3[c]; }
  out5[r] = mu;
  out6[r] = rs;
}

@compute @workgroup_size(WG)
fn rms_bwd(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let r = flat(gid, nwg);
  if (r >= p.rows) { return; }
  let o = r * p.C;
  let rs = in4[r];
  var s = 0.0;
  for (var c = 0u; c < p.C; c++) { s += in1[o + c] * in3[c] * in2[o + c]; }
  let k = rs * rs * s / f32(p.C);
  for (var c = 0u; c < p.C; c++) { out5[o + c] = rs * (in1[o + c] * in3[c] - in2[o + c] * k); }
}

@compute @workgroup_size(WG)
fn ln_bwd(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let r = flat(gid, nwg);
  if (r >= p.rows) { return; }
  let o = r * p.C;
  let mu = in4[r];
  let rs = in5[r];
  var sg = 0.0;
  var sgx = 0.0;
  for (var c = 0u; c < p.C; c++) {
    let g = in1[o + c] * in3[c];
    sg += g;
    sgx += g * (in2[o + c] - mu) * rs;
  }
  let mg = sg / f32(p.C);
  let mgx = sgx / f32(p.C);
  for (var c = 0u; c < p.C; c++) {
    let g = in1[o + c] * in3[c];
    out6[o + c] = rs * (g - mg - (in2[o + c] - mu) * rs * mgx);
  }
}

@compute @workgroup_size(WG)
fn rms_wgrad(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let c = flat(gid, nwg);
  if (c >= p.C) { return; }
  var sw = 0.0;
  for (var r = 0u; r < p.rows; r++) { sw += in1[r * p.C + c] * in2[r * p.C + c] * in3[r]; }
  if (p.beta != 0.0) { sw += p.beta * out4[c]; }
  out4[c] = sw;
}

@compute @workgroup_size(WG)
fn ln_wgrad(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let c = flat(gid, nwg);
  if (c >= p.C) { return; }
  var sw = 0.0;
  var sb = 0.0;
  for (var r = 0u; r < p.rows; r++) {
    let dy = in1[r * p.C + c];
    sw += dy * (in2[r * p.C + c] - in3[r]) * in4[r];
    sb += dy;
  }
  if (p.beta != 0.0) {
    sw += p.beta * out5[c];
    sb += p.beta * out6[c];
  }
  out5[c] = sw;
  out6[c] = sb;
}

// ---- variant 'wg' --------------------------------------------------------------------

/// Sum of `v` over the RWG threads of the workgroup (fixed tree order). Call from uniform
/// control flow; every thread gets the total.
fn row_sum(lid: u32, v: vec2f) -> vec2f {
  workgroupBarrier(); // earlier readers of red[0] are done
  red[lid] = v;
  workgroupBarrier();
  for (var s = RWG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] += red[lid + s]; }
    workgroupBarrier();
  }
  return red[0];
}

fn wg_row(wid: vec3u, nwg: vec3u) -> u32 {
  return wid.x + wid.y * nwg.x;
}

@compute @workgroup_size(RWG)
fn rms_fwd_wg(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let r = wg_row(wid, nwg);
  if (r >= p.rows) { return; } // uniform: the whole workgroup leaves
  let o = r * p.C;
  var ss = 0.0;
  for (var c = lid; c < p.C; c += RWG) { let v = in1[o + c]; ss += v * v; }
  let rs = inverseSqrt(row_sum(lid, vec2f(ss, 0.0)).x / f32(p.C) + p.eps);
  for (var c = lid; c < p.C; c += RWG) { out3[o + c] = in1[o + c] * rs * in2[c]; }
  if (lid == 0u) { out4[r] = rs; }
}

@compute @workgroup_size(RWG)
fn ln_fwd_wg(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let r = wg_row(wid, nwg);
  if (r >= p.rows) { return; }
  let o = r * p.C;
  var s = 0.0;
  for (var c = lid; c < p.C; c += RWG) { s += in1[o + c]; }
  let mu = row_sum(lid, vec2f(s, 0.0)).x / f32(p.C);
  var vs = 0.0;
  for (var c = lid; c < p.C; c += RWG) { let d = in1[o + c] - mu; vs += d * d; }
  let rs = inverseSqrt(row_sum(lid, vec2f(vs, 0.0)).x / f32(p.C) + p.eps);
  for (var c = lid; c < p.C; c += RWG) { out4[o + c] = (in1[o + c] - mu) * rs * in2[c] + in3[c]; }
  if (lid == 0u) {
    out5[r] = mu;
    out6[r] = rs;
  }
}

@compute @workgroup_size(RWG)
fn rms_bwd_wg(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let r = wg_row(wid, nwg);
  if (r >= p.rows) { return; }
  let o = r * p.C;
  let rs = in4[r];
  var s = 0.0;
  for (var c = lid; c < p.C; c += RWG) { s += in1[o + c] * in3[c] * in2[o + c]; }
  let k = rs * rs * row_sum(lid, vec2f(s, 0.0)).x / f32(p.C);
  for (var c = lid; c < p.C; c += RWG) { out5[o + c] = rs * (in1[o + c] * in3[c] - in2[o + c] * k); }
}

@compute @workgroup_size(RWG)
fn ln_bwd_wg(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let r = wg_row(wid, nwg);
  if (r >= p.rows) { return; }
  let o = r * p.C;
  let mu = in4[r];
  let rs = in5[r];
  var acc = vec2f(0.0);
  for (var c = lid; c < p.C; c += RWG) {
    let g = in1[o + c] * in3[c];
    acc += vec2f(g, g * (in2[o + c] - mu) * rs);
  }
  let m = row_sum(lid, acc) / f32(p.C);
  for (var c = lid; c < p.C; c += RWG) {
    let g = in1[o + c] * in3[c];
    out6[o + c] = rs * (g - m.x - (in2[o + c] - mu) * rs * m.y);
  }
}

/// Sum over the WR row lanes of each of the WC columns (fixed tree order); valid in lane 0.
fn lane_sum(lx: u32, ly: u32, v: vec2f) -> vec2f {
  red[ly * WC + lx] = v;
  workgroupBarrier();
  for (var s = WR / 2u; s > 0u; s >>= 1u) {
    if (ly < s) { red[ly * WC + lx] += red[(ly + s) * WC + lx]; }
    workgroupBarrier();
  }
  return red[lx];
}

@compute @workgroup_size(WC, WR)
fn rms_wgrad_wg(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) l: vec3u) {
  let c = wid.x * WC + l.x;
  var sw = 0.0;
  if (c < p.C) {
    for (var r = l.y; r < p.rows; r += WR) { sw += in1[r * p.C + c] * in2[r * p.C + c] * in3[r]; }
  }
  let t = lane_sum(l.x, l.y, vec2f(sw, 0.0)).x;
  if (l.y == 0u && c < p.C) {
    var o = t;
    if (p.beta != 0.0) { o += p.beta * out4[c]; }
    out4[c] = o;
  }
}

@compute @workgroup_size(WC, WR)
fn ln_wgrad_wg(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) l: vec3u) {
  let c = wid.x * WC + l.x;
  var acc = vec2f(0.0);
  if (c < p.C) {
    for (var r = l.y; r < p.rows; r += WR) {
      let dy = in1[r * p.C + c];
      acc += vec2f(dy * (in2[r * p.C + c] - in3[r]) * in4[r], dy);
    }
  }
  let t = lane_sum(l.x, l.y, acc);
  if (l.y == 0u && c < p.C) {
    var o = t;
    if (p.beta != 0.0) { o += p.beta * vec2f(out5[c], out6[c]); }
    out5[c] = o.x;
    out6[c] = o.y;
  }
}
