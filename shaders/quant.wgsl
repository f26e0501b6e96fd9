// quant.wgsl — block quantization of a weight W: (N, K) into q8 / q4 / nf4 and back.
// Formats and exact rules: src/engine/quant/block.ts (this quantize is bit-identical to it).
// Layout: KB = ceil(K / 32) blocks per row, the last zero-padded;
//   codes:  (N · KB · WPB) u32, block s = n·KB + b at words s·WPB ..; WPB = 8 (q8: element j
//           of a block is the int8 in byte j%4 of word j/4) or 4 (q4 / nf4: the nibble at bits
//           4·(j%8) of word j/8);
//   scales: (ceil(N · KB / 2)) u32, f16 scale of block s in half s%2 of word s/2 (low first).
//
//   quantize:   codes, scales ← W (N, K)      one thread per pair of blocks (it owns a scale word)
//   dequantize: W (N, K) ← codes, scales      one thread per weight
//   gather:     X (N, K) ← rows ids[n] of the quantized table (a quantized embedding lookup;
//               here N counts ids, and the ids are validated on the host)
// Bindings: quantize   1 W (read), 2 codes (rw), 3 scales (rw)
//           dequantize 1 codes (read), 2 scales (read), 3 W (rw)
//           gather     1 codes (read), 2 scales (read), 3 X (rw), 4 ids (read)
// Grid: 1-D (grid1d) over ceil(N·KB / 2) threads (quantize) or N·K (dequantize, gather).
// FORMAT override: 0 q8, 1 q4, 2 nf4.
// Exactness: every test that picks a scale or a code is a comparison of f32 values that are
// exact (f16 · small integer / half-integer, or f32(m_i · d) which is one correctly rounded
// product), so division accuracy and f16 conversion rounding never reach the result.

override FORMAT: u32 = 1u;
override WG: u32 = 64;

struct Params {
  N: u32,
  K: u32,
  KB: u32,  // ceil(K / 32)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> Wsrc: array<f32>;
@group(0) @binding(1) var<storage, read> codes: array<u32>;
@group(0) @binding(2) var<storage, read_write> codesOut: array<u32>;
@group(0) @binding(2) var<storage, read> scales: array<u32>;
@group(0) @binding(3) var<storage, read_write> scalesOut: array<u32>;
@group(0) @binding(3) var<storage, read_write> Wout: array<f32>;
@group(0) @binding(4) var<storage, read> rowIds: array<u32>;

var<private> NF4: array<f32, 16> = array<f32, 16>(
  -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635, -0.18477343022823334,
  -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
  0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0);

fn wpb() -> u32 { return select(4u, 8u, FORMAT == 0u); }

// f16 bits → f32, exact for subnormals too (built from integers, no conversion rounding).
fn f16val(h: u32) -> f32 {
  let e = (h >> 10u) & 31u;
  let m = h & 1023u;
  var v = f32(m) * 5.9604644775390625e-8;  // 2^-24
  if (e != 0u) { v = bitcast<f32>(((e + 112u) << 23u) | (m << 13u)); }
  return select(v, -v, (h & 0x8000u) != 0u);
}

// f16 bits of |v| truncated toward zero (saturating at inf), from the f32 bits (integer
// only, so the rounding mode of a conversion never matters).
fn f16trunc(v: f32) -> u32 {
  let b = bitcast<u32>(v) & 0x7fffffffu;  // max() may leave −0
  let ex = b >> 23u;  // biased f32 exponent
  if (ex >= 143u) { return 0x7c00u; }
  if (ex > 112u) { return ((ex - 112u) << 10u) | ((b >> 13u) & 0x3ffu); }
  let sh = 126u - ex;
  if (sh >= 25u) { return 0u; }
  return ((b & 0x7fffffu) | 0x800000u) >> sh;
}

// Smallest f16 h ≥ 0 with h·Q ≥ a (a ≥ 0): start near the approximate quotient, then exact
// tests over a window (h·Q is exact in f32 for Q ∈ {127, 8.5, 7.5, 1}).
fn ceil16(a: f32, Q: f32) -> u32 {
  let h0 = f16trunc(a / Q);
  for (var h = max(h0, 2u) - 2u; h < h0 + 2u; h++) {
    if (f16val(h) * Q >= a) { return h; }
  }
  return h0 + 2u;
}

// round half away from zero of a / d for a ≥ 0, d > 0, capped at qmax, by exact tests.
fn roundMag(a: f32, d: f32, qmax: f32) -> f32 {
  var q = clamp(floor(a / d + 0.5), 0.0, qmax);
  while (q < qmax && a >= (q + 0.5) * d) { q += 1.0; }
  while (q > 0.0 && a < (q - 0.5) * d) { q -= 1.0; }
  return q;
}

fn wAt(n: u32, k: u32) -> f32 {
  if (k < p.K) { return Wsrc[n * p.K + k]; }
  return 0.0;
}

// Encode block s (row n, block b) into codesOut; returns its f16 scale bits.
fn encodeBlock(s: u32) -> u32 {
  let n = s / p.KB;
  let b = s % p.KB;
  var pos = 0.0;
  var neg = 0.0;
  for (var j = 0u; j < 32u; j++) {
    let v = wAt(n, 32u * b + j);
    pos = max(pos, v);
    neg = max(neg, -v);
  }
  var h = 0u;
  if (FORMAT == 0u) { h = ceil16(max(pos, neg), 127.0); }
  else if (FORMAT == 2u) { h = ceil16(max(pos, neg), 1.0); }
  else {
    h = max(ceil16(max(pos, neg), 8.5), ceil16(min(pos, neg), 7.5));
    if (neg < pos) { h |= 0x8000u; }
  }
  let d = f16val(h & 0x7fffu);
  let flip = select(1.0, -1.0, (h & 0x8000u) != 0u);
  var mids: array<f32, 15>;
  for (var i = 0u; i < 15u; i++) { mids[i] = (NF4[i] + NF4[i + 1u]) * 0.5 * d; }
  let per = select(8u, 4u, FORMAT == 0u);   // codes per word
  let bits = 32u / per;
  for (var w = 0u; w < wpb(); w++) {
    var word = 0u;
    for (var j = 0u; j < per; j++) {
      let v = wAt(n, 32u * b + w * per + j);
      var code = 0u;
      if (FORMAT == 2u) {
        code = 7u;
        if (d != 0.0) {
          code = 0u;
          for (var i = 0u; i < 15u; i++) { code += select(0u, 1u, v >= mids[i]); }
        }
      } else if (FORMAT == 0u) {
        var q = 0.0;
        if (d != 0.0) { q = roundMag(abs(v), d, 127.0); }
        code = u32(i32(select(q, -q, v < 0.0))) & 0xffu;
      } else {
        let sv = v * flip;
        var q = 0.0;
        if (d != 0.0) { q = roundMag(abs(sv), d, select(7.0, 8.0, sv < 0.0)); }
        code = u32(i32(select(q, -q, sv < 0.0)) + 8);
      }
      word |= code << (bits * j);
    }
    codesOut[s * wpb() + w] = word;
  }
  return h;
}

@compute @workgroup_size(WG)
fn quantize(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = gid.x + gid.y * nwg.x * WG;
  let total = p.N * p.KB;
  if (2u * t >= total) { return; }
  let lo = encodeBlock(2u * t);
  var hi = 0u;
  if (2u * t + 1u < total) { hi = encodeBlock(2u * t + 1u); }
  scalesOut[t] = lo | (hi << 16u);
}

// The value of element (row, k) of the quantized table.
fn decodeAt(row: u32, k: u32) -> f32 {
  let s = row * p.KB + k / 32u;
  let j = k % 32u;
  let d = unpack2x16float(scales[s / 2u])[s % 2u];
  var v = 0.0;
  if (FORMAT == 0u) {
    v = f32(extractBits(bitcast<i32>(codes[s * 8u + j / 4u]), 8u * (j % 4u), 8u));
  } else {
    let c = extractBits(codes[s * 4u + j / 8u], 4u * (j % 8u), 4u);
    v = select(f32(c) - 8.0, NF4[c], FORMAT == 2u);
  }
  return d * v;
}

@compute @workgroup_size(WG)
fn dequantize(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = gid.x + gid.y * nwg.x * WG;
  if (e >= p.N * p.K) { return; }
  Wout[e] = decodeAt(e / p.K, e % p.K);
}

@compute @workgroup_size(WG)
fn gather(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = gid.x + gid.y * nwg.x * WG;
  if (e >= p.N * p.K) { return; }
  Wout[e] = decodeAt(rowIds[e / p.K], e % p.K);
}
