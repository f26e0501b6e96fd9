// quant.wgsl — block-quantized weights (q8, q4, nf4): quantize, dequantize, and the frozen
// base's matmuls, which decode blocks in registers and never expand W to f32 in memory.
// Layout (defined in src/engine/quant/block.ts): W: (N, K) in blocks of 32 along K,
// KB = ceil(K / 32) per row; codes: (N · KB · WPB) u32 with WPB = 8 (q8) or 4 (q4, nf4);
// scales: f16 per block in block order, two per u32 (even index in the low half).
// A unit is 8 consecutive weights of a row: 2 code words (q8) or 1 (q4, nf4).
//
//   quantize:   codes, scales ← W (N, K)            one thread per pair of blocks
//   dequantize: W (N, K) ← codes, scales            one thread per weight
//   fwd:        Y (M, N) = X (M, K) · Wᵀ (+ beta·Y) thread: 8 rows of X × 8 rows of W
//   bwd:        dX (M, K) = dY (M, N) · W (+ beta·dX) thread: 8 rows of dY × one unit of K
// Barrier-free: each thread decodes a unit of W once and reuses it for 8 rows.
// FORMAT override: 0 q8, 1 q4, 2 nf4.
// Bindings: quantize 1 W, 2 codes (rw), 3 scales (rw); dequantize 1 codes, 2 scales, 3 W (rw)
//           fwd 1 codes, 2 scales, 3 X, 4 Y (rw); bwd 1 codes, 2 scales, 3 dY, 4 dX (rw)
// Grid: quantize 1-D over ceil(N·KB / 2); dequantize 1-D over N·K (folded past 65535);
//       fwd (ceil(N / (8 WG_X)), ceil(M / (8 WG_Y))); bwd (ceil(K / (8 WG_X)), ceil(M / (8 WG_Y))).

override FORMAT: u32 = 1u;
override WG: u32 = 64;
override WG_X: u32 = 8;
override WG_Y: u32 = 8;

struct Params {
  M: u32,
  N: u32,
  K: u32,
  beta: f32,
  KB: u32,  // ceil(K / 32), from the host: an integer division per use is costly on CPUs
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> codes: array<u32>;
@group(0) @binding(1) var<storage, read> Wsrc: array<f32>;
@group(0) @binding(2) var<storage, read> scales: array<u32>;
@group(0) @binding(2) var<storage, read_write> codesOut: array<u32>;
@group(0) @binding(3) var<storage, read> X: array<f32>;
@group(0) @binding(3) var<storage, read_write> scalesOut: array<u32>;
@group(0) @binding(3) var<storage, read_write> Wout: array<f32>;
@group(0) @binding(4) var<storage, read_write> Y: array<f32>;

var<private> NF4: array<f32, 16> = array<f32, 16>(
  -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635, -0.18477343022823334,
  -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
  0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0);

fn wpb() -> u32 { return select(4u, 8u, FORMAT == 0u); }
fn kb() -> u32 { return p.KB; }

fn scale(n: u32, b: u32) -> f32 {
  let s = n * kb() + b;
  return unpack2x16float(scales[s >> 1u])[s & 1u];
}

fn nib(w: u32, j: u32) -> f32 {
  let c = (w >> (4u * j)) & 15u;
  if (FORMAT == 2u) { return NF4[c]; }
  return f32(c) - 8.0;
}

// Weights 8u .. 8u+7 of row n, decoded and scaled: columns 0 and 1 hold 4 each.
fn unit(n: u32, u: u32) -> mat2x4<f32> {
  return unit_raw(n, u) * scale(n, u / 4u);
}

// The same without the block scale (codes as values: int8, q4 level, or NF4 value).
fn unit_raw(n: u32, u: u32) -> mat2x4<f32> {
  let b = u / 4u;
  let base = (n * kb() + b) * wpb();
  if (FORMAT == 0u) {
    let w0 = bitcast<i32>(codes[base + 2u * (u % 4u)]);
    let w1 = bitcast<i32>(codes[base + 2u * (u % 4u) + 1u]);
    return mat2x4<f32>(
      vec4f(f32(extractBits(w0, 0u, 8u)), f32(extractBits(w0, 8u, 8u)), f32(extractBits(w0, 16u, 8u)), f32(extractBits(w0, 24u, 8u))),
      vec4f(f32(extractBits(w1, 0u, 8u)), f32(extractBits(w1, 8u, 8u)), f32(extractBits(w1, 16u, 8u)), f32(extractBits(w1, 24u, 8u))));
  }
  let w = codes[base + (u % 4u)];
  if (FORMAT == 1u) {
    let sh = vec4u(0u, 4u, 8u, 12u);
    return mat2x4<f32>(vec4f((vec4u(w) >> sh) & vec4u(15u)) - 8.0, vec4f((vec4u(w >> 16u) >> sh) & vec4u(15u)) - 8.0);
  }
  return mat2x4<f32>(
    vec4f(nib(w, 0u), nib(w, 1u), nib(w, 2u), nib(w, 3u)),
    vec4f(nib(w, 4u), nib(w, 5u), nib(w, 6u), nib(w, 7u)));
}

// X[m, 8u .. 8u+7], zero past K.
fn xunit(m: u32, u: u32) -> mat2x4<f32> {
  let k = 8u * u;
  let o = m * p.K + k;
  if (k + 8u <= p.K) {
    return mat2x4<f32>(vec4f(X[o], X[o + 1u], X[o + 2u], X[o + 3u]), vec4f(X[o + 4u], X[o + 5u], X[o + 6u], X[o + 7u]));
  }
  var r = mat2x4<f32>();
  for (var j = 0u; j < 8u; j++) { if (k + j < p.K) { r[j / 4u][j % 4u] = X[o + j]; } }
  return r;
}

@compute @workgroup_size(WG_X, WG_Y, 1)
fn fwd(@builtin(global_invocation_id) gid: vec3u) {
  let n0 = gid.x * 8u;
  let m0 = gid.y * 8u;
  if (n0 >= p.N || m0 >= p.M) { return; }
  var acc: array<vec4f, 16>;  // acc[2i + h][c] = Y[m0 + i, n0 + 4h + c]
  let units = (p.K + 7u) / 8u;
  let nn = min(8u, p.N - n0);
  let mm = min(8u, p.M - m0);
  // Constant trip counts (rows past M or N are clamped to the last one and dropped at the
  // store) let the compiler unroll and keep the tiles in registers. Per block of 32, the
  // codes are decoded unscaled into `part`, which is scaled once per block.
  var w: array<mat2x4<f32>, 8>;
  var part: array<vec4f, 16>;
  for (var b = 0u; b < kb(); b++) {
    part = array<vec4f, 16>();
    for (var u = 4u * b; u < min(4u * b + 4u, units); u++) {
      for (var c = 0u; c < 8u; c++) { w[c] = unit_raw(min(n0 + c, p.N - 1u), u); }
      for (var i = 0u; i < 8u; i++) {
        let x = xunit(min(m0 + i, p.M - 1u), u);
        part[2u * i] += vec4f(dot(x[0], w[0][0]) + dot(x[1], w[0][1]), dot(x[0], w[1][0]) + dot(x[1], w[1][1]),
                              dot(x[0], w[2][0]) + dot(x[1], w[2][1]), dot(x[0], w[3][0]) + dot(x[1], w[3][1]));
        part[2u * i + 1u] += vec4f(dot(x[0], w[4][0]) + dot(x[1], w[4][1]), dot(x[0], w[5][0]) + dot(x[1], w[5][1]),
                                   dot(x[0], w[6][0]) + dot(x[1], w[6][1]), dot(x[0], w[7][0]) + dot(x[1], w[7][1]));
      }
    }
    var d: array<f32, 8>;
    for (var c = 0u; c < 8u; c++) { d[c] = scale(min(n0 + c, p.N - 1u), b); }
    let d0 = vec4f(d[0], d[1], d[2], d[3]);
    let d1 = vec4f(d[4], d[5], d[6], d[7]);
    for (var i = 0u; i < 8u; i++) {
      acc[2u * i] += part[2u * i] * d0;
      acc[2u * i + 1u] += part[2u * i + 1u] * d1;
    }
  }
  for (var i = 0u; i < mm; i++) {
    for (var c = 0u; c < nn; c++) {
      let at = (m0 + i) * p.N + n0 + c;
      var v = acc[2u * i + c / 4u][c % 4u];
      if (p.beta != 0.0) { v += p.beta * Y[at]; }
      Y[at] = v;
    }
  }
}

@compute @workgroup_size(WG_X, WG_Y, 1)
fn bwd(@builtin(global_invocation_id) gid: vec3u) {
  let u = gid.x;
  let m0 = gid.y * 8u;
  if (8u * u >= p.K || m0 >= p.M) { return; }
  let mm = min(8u, p.M - m0);
  var acc: array<mat2x4<f32>, 8>;  // acc[i] = dX[m0 + i, 8u .. 8u+7]
  for (var n = 0u; n < p.N; n++) {
    let w = unit(n, u);
    for (var i = 0u; i < mm; i++) { acc[i] += w * X[(m0 + i) * p.N + n]; }
  }
  for (var i = 0u; i < mm; i++) {
    for (var j = 0u; j < 8u; j++) {
      let k = 8u * u + j;
      if (k < p.K) {
        let at = (m0 + i) * p.K + k;
        var v = acc[i][j / 4u][j % 4u];
        if (p.beta != 0.0) { v += p.beta * Y[at]; }
        Y[at] = v;
      }
    }
  }
}

@compute @workgroup_size(WG)
fn dequantize(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = gid.x + gid.y * nwg.x * WG;
  if (e >= p.N * p.K) { return; }
  let n = e / p.K;
  let k = e % p.K;
  let w = unit(n, k / 8u);
  Wout[e] = w[(k % 8u) / 4u][k % 4u];
}

// Encode one block (row n, block b) and return its f16-rounded scale.
fn encode_block(n: u32, b: u32) -> f32 {
  var amax = 0.0;
  for (var j = 0u; j < 32u; j++) {
    let k = b * 32u + j;
    if (k < p.K) { amax = max(amax, abs(Wsrc[n * p.K + k])); }
  }
  var raw = amax;
  if (FORMAT == 0u) { raw = amax / 127.0; } else if (FORMAT == 1u) { raw = amax / 7.0; }
  let d = unpack2x16float(pack2x16float(vec2f(raw, 0.0))).x;
  let base = (n * kb() + b) * wpb();
  for (var w = 0u; w < wpb(); w++) {
    var word = 0u;
    let per = select(8u, 4u, FORMAT == 0u);
    for (var j = 0u; j < per; j++) {
      let k = b * 32u + w * per + j;
      var x = 0.0;
      if (k < p.K) { x = Wsrc[n * p.K + k]; }
      var code = 0u;
      if (FORMAT == 2u) {
        code = 7u;
        if (d != 0.0) {
          let v = x / d;
          var best = 0u;
          for (var c = 1u; c < 16u; c++) { if (abs(NF4[c] - v) < abs(NF4[best] - v)) { best = c; } }
          code = best;
        }
      } else {
        let mq = select(7.0, 127.0, FORMAT == 0u);
        var q = 0.0;
        if (d != 0.0) { q = clamp(sign(x / d) * floor(abs(x / d) + 0.5), -mq, mq); }
        if (FORMAT == 0u) { code = u32(i32(q)) & 0xffu; } else { code = u32(i32(q) + 8); }
      }
      word |= code << ((32u / per) * j);
    }
    codesOut[base + w] = word;
  }
  return d;
}

@compute @workgroup_size(WG)
fn quantize(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = gid.x + gid.y * nwg.x * WG;
  let total = p.N * kb();
  if (2u * t >= total) { return; }
  let s0 = encode_block((2u * t) / kb(), (2u * t) % kb());
  var s1 = 0.0;
  if (2u * t + 1u < total) { s1 = encode_block((2u * t + 1u) / kb(), (2u * t + 1u) % kb()); }
  scalesOut[t] = pack2x16float(vec2f(s0, s1));
}
