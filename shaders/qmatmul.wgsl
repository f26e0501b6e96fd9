// qmatmul.wgsl — matmuls through a frozen block-quantized weight Wq: (N, K) (q8 / q4 / nf4;
// layout and rules in src/engine/quant/block.ts and shaders/quant.wgsl):
//   codes:  (N · KB · WPB) u32, KB = ceil(K / 32), WPB = 8 (q8) or 4 (q4, nf4); element j
//           of block s = n·KB + b is byte j%4 of word s·8 + j/4 (q8, int8) or nibble j%8
//           (bits 4·(j%8)) of word s·4 + j/8 (q4: value code − 8; nf4: NF4[code]);
//   scales: (ceil(N · KB / 2)) u32, f16 scale of block s = unpack2x16float(scales[s/2])[s%2].
//
//   fwd:  Y (M, N) = X (M, K) · Wqᵀ (+ beta·Y)    thread: 8 rows of X × 8 rows of Wq (8 × 8 of Y)
//   bwd:  dX (M, K) = dY (M, N) · Wq (+ beta·dX)  thread: 8 rows of dY × 16 columns of Wq
// Wq is never expanded in memory: a "unit" is 8 consecutive weights of a row (one code word
// for q4 / nf4, two for q8), decoded and scaled in registers and reused for the 8 rows of X
// (or dY) the thread owns. Per unit the forward loads 8 code words and 16 vec4 of X for 512
// multiply-adds, which it does as four 4 × 4 tiles of matrix products (Quad, prod). No
// workgroup memory and no barriers (SwiftShader turns barriers into coroutine switches).
// Rows past M or N are clamped to the last row for loading (constant trip counts keep the
// tiles in registers) and dropped at the store. The units past K are padding: their codes
// decode to 0 and X is read as 0 there.
//   fwd_k32 is fwd for K % 32 == 0 (every block full): X read as vec4, no bounds tests in K.
//
// Bindings: 1 codes (read), 2 scales (read), 3 X or dY (read; X4 is the same buffer as vec4),
//           4 Y or dX (rw)
// Grid: fwd / fwd_k32: (ceil(N / (8 WG_X)), ceil(M / (8 WG_Y)));
//       bwd:           (ceil(K / (16 WG_X)), ceil(M / (8 WG_Y))).
// FORMAT override: 0 q8, 1 q4, 2 nf4.

override FORMAT: u32 = 1u;
override WG_X: u32 = 8;
override WG_Y: u32 = 8;

struct Params {
  M: u32,
  N: u32,
  K: u32,
  KB: u32,   // ceil(K / 32), from the host (no integer division per load)
  beta: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> codes: array<u32>;
@group(0) @binding(2) var<storage, read> scales: array<u32>;
@group(0) @binding(3) var<storage, read> X: array<f32>;
@group(0) @binding(3) var<storage, read> X4: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> Y: array<f32>;

var<private> NF4: array<f32, 16> = array<f32, 16>(
  -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635, -0.18477343022823334,
  -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
  0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0);

fn scaleOf(s: u32) -> f32 {
  return unpack2x16float(scales[s >> 1u])[s & 1u];
}

fn nf4x4(w: u32) -> vec4f {
  return vec4f(NF4[w & 15u], NF4[(w >> 4u) & 15u], NF4[(w >> 8u) & 15u], NF4[(w >> 12u) & 15u]);
}

// The only per-format code: weights 8u .. 8u+7 of block s (u = unit within the block,
// 0..3), scaled by d. Columns 0 and 1 hold 4 each.
fn decode(s: u32, u: u32, d: f32) -> mat2x4<f32> {
  if (FORMAT == 0u) {
    let o = s * 8u + 2u * u;
    let w0 = vec4i(bitcast<i32>(codes[o]));
    let w1 = vec4i(bitcast<i32>(codes[o + 1u]));
    let sh = vec4u(24u, 16u, 8u, 0u);
    return mat2x4<f32>(vec4f((w0 << sh) >> vec4u(24u)) * d, vec4f((w1 << sh) >> vec4u(24u)) * d);
  }
  let w = codes[s * 4u + u];
  if (FORMAT == 1u) {
    // No shifts or conversions: nibble j masked in place is c·16^j; OR-ed into the mantissa
    // of 2^23 it reads as the float 2^23 + c·16^j. Subtracting 2^23 + 8·16^j leaves
    // (c − 8)·16^j exactly, and d·16^-j (exact) scales it.
    let mask = vec4u(0xfu, 0xf0u, 0xf00u, 0xf000u);
    let bias = vec4f(8388616.0, 8388736.0, 8390656.0, 8421376.0);  // 2^23 + 8·16^j
    let dj = d * vec4f(1.0, 0.0625, 0.00390625, 0.000244140625);
    let lo = bitcast<vec4f>((vec4u(w) & mask) | vec4u(0x4b000000u)) - bias;
    let hi = bitcast<vec4f>((vec4u(w >> 16u) & mask) | vec4u(0x4b000000u)) - bias;
    return mat2x4<f32>(lo * dj, hi * dj);
  }
  return mat2x4<f32>(nf4x4(w) * d, nf4x4(w >> 16u) * d);
}

// Four rows' worth of one unit, transposed for matrix products: column c is row c's 8
// weights or inputs, k 0..3 in `a` and k 4..7 in `b`.
struct Quad {
  a: mat4x4<f32>,
  b: mat4x4<f32>,
}

// Unit u of blocks s.x .. s.w (four rows of Wq), scaled by d.
fn decode4(s: vec4u, u: u32, d: vec4f) -> Quad {
  let r0 = decode(s.x, u, d.x);
  let r1 = decode(s.y, u, d.y);
  let r2 = decode(s.z, u, d.z);
  let r3 = decode(s.w, u, d.w);
  return Quad(mat4x4<f32>(r0[0], r1[0], r2[0], r3[0]), mat4x4<f32>(r0[1], r1[1], r2[1], r3[1]));
}

fn scale4(s: vec4u) -> vec4f {
  return vec4f(scaleOf(s.x), scaleOf(s.y), scaleOf(s.z), scaleOf(s.w));
}

// X[r, k .. k+7] for the four row offsets r (in floats), zero past K.
fn xquad(r: vec4u, k: u32) -> Quad {
  if (k + 8u <= p.K) {
    return Quad(mat4x4<f32>(vec4f(X[r.x + k], X[r.x + k + 1u], X[r.x + k + 2u], X[r.x + k + 3u]),
                            vec4f(X[r.y + k], X[r.y + k + 1u], X[r.y + k + 2u], X[r.y + k + 3u]),
                            vec4f(X[r.z + k], X[r.z + k + 1u], X[r.z + k + 2u], X[r.z + k + 3u]),
                            vec4f(X[r.w + k], X[r.w + k + 1u], X[r.w + k + 2u], X[r.w + k + 3u])),
                mat4x4<f32>(vec4f(X[r.x + k + 4u], X[r.x + k + 5u], X[r.x + k + 6u], X[r.x + k + 7u]),
                            vec4f(X[r.y + k + 4u], X[r.y + k + 5u], X[r.y + k + 6u], X[r.y + k + 7u]),
                            vec4f(X[r.z + k + 4u], X[r.z + k + 5u], X[r.z + k + 6u], X[r.z + k + 7u]),
                            vec4f(X[r.w + k + 4u], X[r.w + k + 5u], X[r.w + k + 6u], X[r.w + k + 7u])));
  }
  var q = Quad(mat4x4<f32>(), mat4x4<f32>());
  for (var j = 0u; j < 4u; j++) {
    if (k + j < p.K) { q.a[0][j] = X[r.x + k + j]; q.a[1][j] = X[r.y + k + j]; q.a[2][j] = X[r.z + k + j]; q.a[3][j] = X[r.w + k + j]; }
    if (k + 4u + j < p.K) { q.b[0][j] = X[r.x + k + 4u + j]; q.b[1][j] = X[r.y + k + 4u + j]; q.b[2][j] = X[r.z + k + 4u + j]; q.b[3][j] = X[r.w + k + 4u + j]; }
  }
  return q;
}

// The same when K % 32 == 0: r and the result in vec4 units.
fn xquad4(r: vec4u, k4: u32) -> Quad {
  return Quad(mat4x4<f32>(X4[r.x + k4], X4[r.y + k4], X4[r.z + k4], X4[r.w + k4]),
              mat4x4<f32>(X4[r.x + k4 + 1u], X4[r.y + k4 + 1u], X4[r.z + k4 + 1u], X4[r.w + k4 + 1u]));
}

// Y tile contribution of one unit: result[i][c] = Σ_k x[i][k] · w[c][k], i.e. column i is
// X row i against the four W rows.
fn prod(w: Quad, x: Quad) -> mat4x4<f32> {
  return transpose(w.a) * x.a + transpose(w.b) * x.b;
}

// Rows m0 .. m0+7 and n0 .. n0+7 clamped into range, as vec4 pairs.
fn clampRows(r0: u32, count: u32) -> array<vec4u, 2> {
  let last = vec4u(count - 1u);
  return array<vec4u, 2>(min(vec4u(r0) + vec4u(0u, 1u, 2u, 3u), last), min(vec4u(r0) + vec4u(4u, 5u, 6u, 7u), last));
}

// acc[i][c] = Y[m0 + i, n0 + c] for the 4 × 4 quarter at (m0, n0).
fn store4(acc: mat4x4<f32>, m0: u32, n0: u32) {
  if (m0 >= p.M || n0 >= p.N) { return; }
  let mm = min(4u, p.M - m0);
  let nn = min(4u, p.N - n0);
  for (var i = 0u; i < mm; i++) {
    for (var c = 0u; c < nn; c++) {
      let at = (m0 + i) * p.N + n0 + c;
      var v = acc[i][c];
      if (p.beta != 0.0) { v += p.beta * Y[at]; }
      Y[at] = v;
    }
  }
}

@compute @workgroup_size(WG_X, WG_Y, 1)
fn fwd(@builtin(global_invocation_id) gid: vec3u) {
  let n0 = gid.x * 8u;
  let m0 = gid.y * 8u;
  if (n0 >= p.N || m0 >= p.M) { return; }
  let nr = clampRows(n0, p.N);
  let sA = nr[0] * p.KB;
  let sB = nr[1] * p.KB;
  let mr = clampRows(m0, p.M);
  let xA = mr[0] * p.K;
  let xB = mr[1] * p.K;
  var a00 = mat4x4<f32>();  // rows m0 .. +3 × n0 .. +3
  var a01 = mat4x4<f32>();  // rows m0 .. +3 × n0+4 .. +7
  var a10 = mat4x4<f32>();
  var a11 = mat4x4<f32>();
  for (var b = 0u; b < p.KB; b++) {
    let dA = scale4(sA + b);
    let dB = scale4(sB + b);
    for (var u = 0u; u < 4u; u++) {
      let k = 32u * b + 8u * u;
      if (k >= p.K) { break; }
      let wA = decode4(sA + b, u, dA);
      let wB = decode4(sB + b, u, dB);
      let x0 = xquad(xA, k);
      let x1 = xquad(xB, k);
      a00 += prod(wA, x0);
      a01 += prod(wB, x0);
      a10 += prod(wA, x1);
      a11 += prod(wB, x1);
    }
  }
  store4(a00, m0, n0);
  store4(a01, m0, n0 + 4u);
  store4(a10, m0 + 4u, n0);
  store4(a11, m0 + 4u, n0 + 4u);
}

@compute @workgroup_size(WG_X, WG_Y, 1)
fn fwd_k32(@builtin(global_invocation_id) gid: vec3u) {
  let n0 = gid.x * 8u;
  let m0 = gid.y * 8u;
  if (n0 >= p.N || m0 >= p.M) { return; }
  let nr = clampRows(n0, p.N);
  let sA = nr[0] * p.KB;
  let sB = nr[1] * p.KB;
  let mr = clampRows(m0, p.M);
  let xA = mr[0] * (p.K / 4u);
  let xB = mr[1] * (p.K / 4u);
  var a00 = mat4x4<f32>();
  var a01 = mat4x4<f32>();
  var a10 = mat4x4<f32>();
  var a11 = mat4x4<f32>();
  for (var b = 0u; b < p.KB; b++) {
    let dA = scale4(sA + b);
    let dB = scale4(sB + b);
    for (var u = 0u; u < 4u; u++) {
      let wA = decode4(sA + b, u, dA);
      let wB = decode4(sB + b, u, dB);
      let k4 = 8u * b + 2u * u;
      let x0 = xquad4(xA, k4);
      let x1 = xquad4(xB, k4);
      a00 += prod(wA, x0);
      a01 += prod(wB, x0);
      a10 += prod(wA, x1);
      a11 += prod(wB, x1);
    }
  }
  store4(a00, m0, n0);
  store4(a01, m0, n0 + 4u);
  store4(a10, m0 + 4u, n0);
  store4(a11, m0 + 4u, n0 + 4u);
}

// column j of the result is a · b[j]
fn outer(a: vec4f, b: vec4f) -> mat4x4<f32> {
  return mat4x4<f32>(a * b.x, a * b.y, a * b.z, a * b.w);
}

// Store acc[j][i] = dX[m0 + i, k0 + j] (4 × 4).
fn storeT4(acc: mat4x4<f32>, m0: u32, k0: u32) {
  if (m0 >= p.M || k0 >= p.K) { return; }
  let mm = min(4u, p.M - m0);
  let kk = min(4u, p.K - k0);
  for (var i = 0u; i < mm; i++) {
    for (var j = 0u; j < kk; j++) {
      let at = (m0 + i) * p.K + k0 + j;
      var v = acc[j][i];
      if (p.beta != 0.0) { v += p.beta * Y[at]; }
      Y[at] = v;
    }
  }
}

// dX[m0 .. m0+7, k0 .. k0+15] = Σ_n dY[m, n] · Wq[n, k0 .. k0+15]; X is dY (M, N), Y is dX (M, K).
// k0 is a multiple of 16, so both units lie in one block (padding past K decodes to 0).
@compute @workgroup_size(WG_X, WG_Y, 1)
fn bwd(@builtin(global_invocation_id) gid: vec3u) {
  let k0 = gid.x * 16u;
  let m0 = gid.y * 8u;
  if (k0 >= p.K || m0 >= p.M) { return; }
  let b = k0 / 32u;
  let u = (k0 % 32u) / 8u;
  let mr = clampRows(m0, p.M);
  let rA = mr[0] * p.N;
  let rB = mr[1] * p.N;
  var a0 = mat4x4<f32>();  // [j][i]: k0 + j, m0 + i
  var a1 = mat4x4<f32>();  // k0 + 4 + j, m0 + i
  var a2 = mat4x4<f32>();  // k0 + 8 + j, m0 + i
  var a3 = mat4x4<f32>();  // k0 + 12 + j, m0 + i
  var a4 = mat4x4<f32>();  // the same for m0 + 4 + i
  var a5 = mat4x4<f32>();
  var a6 = mat4x4<f32>();
  var a7 = mat4x4<f32>();
  for (var n = 0u; n < p.N; n++) {
    let s = n * p.KB + b;
    let d = scaleOf(s);
    let w0 = decode(s, u, d);
    let w1 = decode(s, u + 1u, d);
    let gA = vec4f(X[rA.x + n], X[rA.y + n], X[rA.z + n], X[rA.w + n]);
    let gB = vec4f(X[rB.x + n], X[rB.y + n], X[rB.z + n], X[rB.w + n]);
    a0 += outer(gA, w0[0]);
    a1 += outer(gA, w0[1]);
    a2 += outer(gA, w1[0]);
    a3 += outer(gA, w1[1]);
    a4 += outer(gB, w0[0]);
    a5 += outer(gB, w0[1]);
    a6 += outer(gB, w1[0]);
    a7 += outer(gB, w1[1]);
  }
  storeT4(a0, m0, k0);
  storeT4(a1, m0, k0 + 4u);
  storeT4(a2, m0, k0 + 8u);
  storeT4(a3, m0, k0 + 12u);
  storeT4(a4, m0 + 4u, k0);
  storeT4(a5, m0 + 4u, k0 + 4u);
  storeT4(a6, m0 + 4u, k0 + 8u);
  storeT4(a7, m0 + 4u, k0 + 12u);
}

// ---- gemv: Y (M, N) = X (M, K) · Wqᵀ (+ beta·Y) for M <= 8 (decoding) ---------------------
// A thread per 4 consecutive rows of Wq over the whole K, every code word read once: per
// unit (8 weights of each of the 4 rows: 4 code words, 4 scales per block) it applies the
// MR rows of X (MR override, 1..8; accumulators a0..a7 are named variables, each a 4x4
// matrix whose column c holds row n0 + c's partial sums: SwiftShader keeps indexed private
// arrays in memory). gemv_k32 is the same for K % 32 == 0 (X read as vec4, no bounds tests).
// Grid: ceil(N / (4·WG_X)) (folded past 65535: i = gid.x + gid.y·nwg.x·WG_X).

override MR: u32 = 1u;

fn rows4(n0: u32) -> vec4u {
  return min(vec4u(n0) + vec4u(0u, 1u, 2u, 3u), vec4u(p.N - 1u));
}

// a[c] += Wq row c's unit (q.a[c]: k 0..3, q.b[c]: k 4..7) · the unit of X (xa, xb).
fn fma8(a: mat4x4f, xa: vec4f, xb: vec4f, q: Quad) -> mat4x4f {
  return mat4x4f(a[0] + xa * q.a[0] + xb * q.b[0], a[1] + xa * q.a[1] + xb * q.b[1],
                 a[2] + xa * q.a[2] + xb * q.b[2], a[3] + xa * q.a[3] + xb * q.b[3]);
}

// X[m, k .. k+7] (o = m·K) as two vec4, zero past K.
fn xunit(o: u32, k: u32) -> mat2x4f {
  var r = mat2x4f();
  for (var j = 0u; j < 4u; j++) {
    if (k + j < p.K) { r[0][j] = X[o + k + j]; }
    if (k + 4u + j < p.K) { r[1][j] = X[o + k + 4u + j]; }
  }
  return r;
}

fn putRow4(m: u32, n0: u32, a: mat4x4f) {
  if (m >= MR || m >= p.M) { return; }
  let one = vec4f(1.0);
  let s = vec4f(dot(a[0], one), dot(a[1], one), dot(a[2], one), dot(a[3], one));
  for (var c = 0u; c < 4u; c++) {
    if (n0 + c < p.N) {
      let at = m * p.N + n0 + c;
      var v = s[c];
      if (p.beta != 0.0) { v += p.beta * Y[at]; }
      Y[at] = v;
    }
  }
}

fn xoff(m: u32) -> u32 { return min(m, p.M - 1u) * p.K; }

@compute @workgroup_size(WG_X)
fn gemv(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let n0 = (gid.x + gid.y * nwg.x * WG_X) * 4u;
  if (n0 >= p.N) { return; }
  let s0 = rows4(n0) * p.KB;
  let x = vec4u(xoff(1u), xoff(2u), xoff(3u), xoff(4u));
  let y = vec3u(xoff(5u), xoff(6u), xoff(7u));
  var a0 = mat4x4f(); var a1 = mat4x4f(); var a2 = mat4x4f(); var a3 = mat4x4f();
  var a4 = mat4x4f(); var a5 = mat4x4f(); var a6 = mat4x4f(); var a7 = mat4x4f();
  for (var b = 0u; b < p.KB; b++) {
    let d = scale4(s0 + b);
    for (var u = 0u; u < 4u; u++) {
      let k = 32u * b + 8u * u;
      if (k >= p.K) { break; }
      let w = decode4(s0 + b, u, d);
      var v = xunit(0u, k); a0 = fma8(a0, v[0], v[1], w);
      if (MR > 1u) { v = xunit(x.x, k); a1 = fma8(a1, v[0], v[1], w); }
      if (MR > 2u) { v = xunit(x.y, k); a2 = fma8(a2, v[0], v[1], w); }
      if (MR > 3u) { v = xunit(x.z, k); a3 = fma8(a3, v[0], v[1], w); }
      if (MR > 4u) { v = xunit(x.w, k); a4 = fma8(a4, v[0], v[1], w); }
      if (MR > 5u) { v = xunit(y.x, k); a5 = fma8(a5, v[0], v[1], w); }
      if (MR > 6u) { v = xunit(y.y, k); a6 = fma8(a6, v[0], v[1], w); }
      if (MR > 7u) { v = xunit(y.z, k); a7 = fma8(a7, v[0], v[1], w); }
    }
  }
  putRow4(0u, n0, a0); putRow4(1u, n0, a1); putRow4(2u, n0, a2); putRow4(3u, n0, a3);
  putRow4(4u, n0, a4); putRow4(5u, n0, a5); putRow4(6u, n0, a6); putRow4(7u, n0, a7);
}

@compute @workgroup_size(WG_X)
fn gemv_k32(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let n0 = (gid.x + gid.y * nwg.x * WG_X) * 4u;
  if (n0 >= p.N) { return; }
  let s0 = rows4(n0) * p.KB;
  let x = vec4u(xoff(1u), xoff(2u), xoff(3u), xoff(4u)) / 4u;
  let y = vec3u(xoff(5u), xoff(6u), xoff(7u)) / 4u;
  var a0 = mat4x4f(); var a1 = mat4x4f(); var a2 = mat4x4f(); var a3 = mat4x4f();
  var a4 = mat4x4f(); var a5 = mat4x4f(); var a6 = mat4x4f(); var a7 = mat4x4f();
  for (var b = 0u; b < p.KB; b++) {
    let d = scale4(s0 + b);
    for (var u = 0u; u < 4u; u++) {
      let w = decode4(s0 + b, u, d);
      let k4 = 8u * b + 2u * u;
      a0 = fma8(a0, X4[k4], X4[k4 + 1u], w);
      if (MR > 1u) { a1 = fma8(a1, X4[x.x + k4], X4[x.x + k4 + 1u], w); }
      if (MR > 2u) { a2 = fma8(a2, X4[x.y + k4], X4[x.y + k4 + 1u], w); }
      if (MR > 3u) { a3 = fma8(a3, X4[x.z + k4], X4[x.z + k4 + 1u], w); }
      if (MR > 4u) { a4 = fma8(a4, X4[x.w + k4], X4[x.w + k4 + 1u], w); }
      if (MR > 5u) { a5 = fma8(a5, X4[y.x + k4], X4[y.x + k4 + 1u], w); }
      if (MR > 6u) { a6 = fma8(a6, X4[y.y + k4], X4[y.y + k4 + 1u], w); }
      if (MR > 7u) { a7 = fma8(a7, X4[y.z + k4], X4[y.z + k4 + 1u], w); }
    }
  }
  putRow4(0u, n0, a0); putRow4(1u, n0, a1); putRow4(2u, n0, a2); putRow4(3u, n0, a3);
  putRow4(4u, n0, a4); putRow4(5u, n0, a5); putRow4(6u, n0, a6); putRow4(7u, n0, a7);
}
