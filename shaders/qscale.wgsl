// qscale.wgsl — the f16 block scales of a quantized weight (layout in src/engine/quant/block.ts:
// two f16 per u32 word, block s in the low half of word s/2 when s is even, the high half
// when odd; an odd count leaves the last high half 0) written from an f32 master copy, for
// zeroth-order training of the scales (QZO). The conversion is our own round-to-nearest-even
// on the f32 bits (as block.ts f32ToF16: subnormals kept, overflow to ±inf, NaN quiet), not
// pack2x16float, whose rounding WGSL leaves to the device: the words are bit-identical to
// the host reference everywhere, and a master that holds f16 values packs back exactly.
//
// Shapes: src, m: (n) f32; words: (ceil(n / 2)) u32; signs: (ceil(n / 32)) u32.
//   pack_f16:     words[w] = f16(src[2w]) | f16(src[2w + 1]) << 16   (high half 0 past n)
//   project_sign: m[i] = bit i of signs ? min(m[i], 0) : max(m[i], 0)
//                 (keeps each scale on its starting side of 0: QZO's projection max(Δ, 0),
//                 for q4 scales whose sign the quantizer chose)
// Bindings: pack_f16 1 src (read), 2 words (rw); project_sign 1 signs (read), 2 m (rw)
// Grid: 1-D, folded past 65535 workgroups: pack_f16 one thread per word, project_sign one
// per value.

override WG: u32 = 256;

struct Params {
  n: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read> signs: array<u32>;
@group(0) @binding(2) var<storage, read_write> words: array<u32>;
@group(0) @binding(2) var<storage, read_write> m: array<f32>;

fn flat(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

// f32 → f16 bits, round to nearest even, from the bits alone.
fn f16bits(x: f32) -> u32 {
  let b = bitcast<u32>(x);
  let sign = (b >> 16u) & 0x8000u;
  let e = i32((b >> 23u) & 0xffu);
  var mant = b & 0x7fffffu;
  if (e == 255) { return sign | 0x7c00u | select(0u, 0x200u, mant != 0u); }
  var ex = e - 112; // e − 127 + 15
  if (ex >= 31) { return sign | 0x7c00u; }
  if (ex <= 0) {
    if (ex < -10) { return sign; }
    mant = mant | 0x800000u;
    let shift = u32(14 - ex); // 14 .. 24
    let half = 1u << (shift - 1u);
    var r = mant >> shift;
    let rest = mant & ((1u << shift) - 1u);
    if (rest > half || (rest == half && (r & 1u) == 1u)) { r += 1u; }
    return sign | r; // r = 0x400 is the smallest normal: still right
  }
  var r = mant >> 13u;
  let rest = mant & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (r & 1u) == 1u)) { r += 1u; }
  if (r == 0x400u) {
    r = 0u;
    ex += 1;
    if (ex >= 31) { return sign | 0x7c00u; }
  }
  return sign | (u32(ex) << 10u) | r;
}

@compute @workgroup_size(WG)
fn pack_f16(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let w = flat(gid, nwg);
  if (w >= (p.n + 1u) / 2u) { return; }
  let lo = f16bits(src[2u * w]);
  var hi = 0u;
  if (2u * w + 1u < p.n) { hi = f16bits(src[2u * w + 1u]); }
  words[w] = lo | (hi << 16u);
}

@compute @workgroup_size(WG)
fn project_sign(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat(gid, nwg);
  if (i >= p.n) { return; }
  let neg = ((signs[i >> 5u] >> (i & 31u)) & 1u) == 1u;
  let v = m[i];
  m[i] = select(max(v, 0.0), min(v, 0.0), neg);
}
