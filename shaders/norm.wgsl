// norm.wgsl — RMSNorm (Llama) and LayerNorm (GPT-2), forward and backward.
//
// Shapes: x, y, dy, dx: (rows, C); w, b, dw, db: (C); mean, rstd: (rows).
//   rms_fwd:   y = x * rstd * w,            rstd = 1 / sqrt(mean(x²) + eps)
//   rms_bwd:   dx = rstd * (dy*w - x * rstd² * mean(dy*w*x))
//   ln_fwd:    y = (x - mean) * rstd * w + b, rstd = 1 / sqrt(var(x) + eps)
//   ln_bwd:    xh = (x - mean) * rstd, g = dy*w:  dx = rstd * (g - mean(g) - xh * mean(g*xh))
//   rms_wgrad: dw[c] = beta*dw[c] + Σ_rows dy * x * rstd
//   ln_wgrad:  dw[c] = beta*dw[c] + Σ_rows dy * (x - mean) * rstd,  db[c] = beta*db[c] + Σ_rows dy
// Algorithm: one thread per row for the row kernels (barrier-free, loops over C in
// registers); one thread per column for the weight gradients, looping over rows, so no
// float atomics are needed and results are deterministic.
//
// Bindings:
//   rms_fwd:   1 x, 2 w, 3 y (rw), 4 rstd (rw)
//   ln_fwd:    1 x, 2 w, 3 b, 4 y (rw), 5 mean (rw), 6 rstd (rw)
//   rms_bwd:   1 dy, 2 x, 3 w, 4 rstd, 5 dx (rw)
//   ln_bwd:    1 dy, 2 x, 3 w, 4 mean, 5 rstd, 6 dx (rw)
//   rms_wgrad: 1 dy, 2 x, 3 rstd, 4 dw (rw)
//   ln_wgrad:  1 dy, 2 x, 3 mean, 4 rstd, 5 dw (rw), 6 db (rw)
// Grid: 1-D over rows (row kernels) or over C (weight gradients), folded past 65535 workgroups.

override WG: u32 = 64;

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

fn flat(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

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
