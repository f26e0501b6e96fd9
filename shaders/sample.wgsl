// sample.wgsl — choose the next token from one row of logits on the GPU, so a generated
// token costs a 4-byte readback instead of V floats. One workgroup; src/engine/kernels/
// sample.ref.ts is the reference and model/sampling.ts's `sampleToken` the definition:
//   greedy (temperature <= 0): the first index of the largest logit;
//   otherwise order the tokens by logit, descending, ties by index ascending; keep the first
//   topK (0 = all); weights w = exp((l − max) / temperature); keep the shortest prefix whose
//   weight reaches topP · Σ kept; pick the first kept token whose running weight exceeds
//   u · Σ kept, u = uniform(seed, index, stream) of rng.wgsl's Philox4x32-10 stream.
// Shapes: logits (V) f32; out (1) u32 = the token.
// Bindings: 1 logits (read), 2 out (rw).
// Grid: (1). Algorithm: every "first k in sorted order" is a threshold on the order key of
// the f32 bits (a u32 that sorts like the floats), found by bisection over the key (32
// rounds of a workgroup reduction of counts or weights over contiguous per-thread chunks,
// so that ties, which all have the same weight, are taken in index order by a scan of
// per-thread tie counts). No sorting, no scratch memory.
// `mulhi` and `philox` are rng.wgsl's (WGSL has no imports); the test checks the stream
// against rng.ref.ts.

override WG: u32 = 64;

struct Params {
  V: u32,
  seedLo: u32,
  seedHi: u32,
  index: u32,
  stream: u32,
  temperature: f32,
  topK: u32,
  topP: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;

var<workgroup> redU: array<u32, WG>;
var<workgroup> redF: array<f32, WG>;
var<workgroup> tieA: array<u32, WG>; // exclusive prefix over threads of ties at tauA
var<workgroup> tieB: array<u32, WG>; // ... of ties at tauB among the top-k set

fn mulhi(a: u32, b: u32) -> u32 {
  let a0 = a & 0xffffu;
  let a1 = a >> 16u;
  let b0 = b & 0xffffu;
  let b1 = b >> 16u;
  let p00 = a0 * b0;
  let p01 = a0 * b1;
  let p10 = a1 * b0;
  let p11 = a1 * b1;
  let mid = (p00 >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
  return p11 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u);
}

fn philox(ctr: vec4u, key: vec2u) -> vec4u {
  var c = ctr;
  var k = key;
  for (var r = 0u; r < 10u; r++) {
    let hi0 = mulhi(0xd2511f53u, c.x);
    let lo0 = 0xd2511f53u * c.x;
    let hi1 = mulhi(0xcd9e8d57u, c.z);
    let lo1 = 0xcd9e8d57u * c.z;
    c = vec4u(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
    k += vec2u(0x9e3779b9u, 0xbb67ae85u);
  }
  return c;
}

fn uniform01() -> f32 {
  let x = philox(vec4u(p.index / 4u, p.stream, 0u, 0u), vec2u(p.seedLo, p.seedHi));
  return f32(x[p.index % 4u] >> 8u) * 5.9604644775390625e-8;
}

/** A u32 that orders like the f32 (−0 just below +0). */
fn okey(x: f32) -> u32 {
  let b = bitcast<u32>(x);
  return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

/** The f32 of an order key. */
fn fromKey(k: u32) -> f32 {
  return bitcast<f32>(select(~k, k & 0x7fffffffu, (k & 0x80000000u) != 0u));
}

fn sumU(t: u32, x: u32) -> u32 {
  redU[t] = x;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (t < s) { redU[t] += redU[t + s]; }
    workgroupBarrier();
  }
  let r = workgroupUniformLoad(&redU[0]);
  workgroupBarrier();
  return r;
}

fn maxU(t: u32, x: u32) -> u32 {
  redU[t] = x;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (t < s) { redU[t] = max(redU[t], redU[t + s]); }
    workgroupBarrier();
  }
  let r = workgroupUniformLoad(&redU[0]);
  workgroupBarrier();
  return r;
}

fn minU(t: u32, x: u32) -> u32 {
  redU[t] = x;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (t < s) { redU[t] = min(redU[t], redU[t + s]); }
    workgroupBarrier();
  }
  let r = workgroupUniformLoad(&redU[0]);
  workgroupBarrier();
  return r;
}

fn sumF(t: u32, x: f32) -> f32 {
  redF[t] = x;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (t < s) { redF[t] += redF[t + s]; }
    workgroupBarrier();
  }
  let r = workgroupUniformLoad(&redF[0]);
  workgroupBarrier();
  return r;
}

/** Exclusive prefix of `x` over threads into tieA (which = 0) or tieB (which = 1). */
fn scanInto(t: u32, x: u32, which: u32) {
  redU[t] = x;
  workgroupBarrier();
  if (t == 0u) {
    var acc = 0u;
    for (var i = 0u; i < WG; i++) {
      let v = redU[i];
      if (which == 0u) { tieA[i] = acc; } else { tieB[i] = acc; }
      acc += v;
    }
  }
  workgroupBarrier();
}

// The sets, as thresholds: A (top-k) = key > tauA, or key == tauA among the first needA ties
// in index order; B (top-p, within A) likewise with tauB, needB over A's ties at tauB.
struct Sets {
  tauA: u32,
  needA: u32,
  tauB: u32,
  needB: u32,
}

/** Walks thread t's chunk [lo, hi) in index order; `mode` picks the quantity summed over the
 *  elements of the set (0: A, 1: B) whose key is >= thr (strict when `strict`):
 *  `what` 0 = count, 1 = weight. Tie ranks come from the scans in tieA / tieB. */
fn walk(t: u32, lo: u32, hi: u32, s: Sets, mode: u32, thr: u32, strict: bool, what: u32, m: f32) -> vec2f {
  var rankA = tieA[t];
  var rankB = tieB[t];
  var acc = 0.0;
  var cnt = 0u;
  for (var i = lo; i < hi; i++) {
    let x = logits[i];
    let k = okey(x);
    var inA = k > s.tauA;
    if (k == s.tauA) {
      inA = rankA < s.needA;
      rankA++;
    }
    var inSet = inA;
    if (mode == 1u && inA) {
      var inB = k > s.tauB;
      if (k == s.tauB) {
        inB = rankB < s.needB;
        rankB++;
      }
      inSet = inB;
    }
    let ok = select(k >= thr, k > thr, strict);
    if (inSet && ok) {
      if (what == 0u) { cnt++; } else { acc += exp((x - m) / p.temperature); }
    }
  }
  return vec2f(acc, f32(cnt));
}

@compute @workgroup_size(WG)
fn sample(@builtin(local_invocation_id) lid: vec3u) {
  let t = lid.x;
  let V = p.V;
  let chunk = (V + WG - 1u) / WG;
  let lo = min(V, t * chunk);
  let hi = min(V, lo + chunk);

  // The largest key, and the first index holding it.
  var kmax = 0u;
  for (var i = lo; i < hi; i++) { kmax = max(kmax, okey(logits[i])); }
  let M = maxU(t, kmax);
  var first = 0xffffffffu;
  for (var i = lo; i < hi; i++) {
    if (okey(logits[i]) == M) {
      first = i;
      break;
    }
  }
  let argmax = minU(t, first);
  if (!(p.temperature > 0.0) || p.topK == 1u) {
    if (t == 0u) { out[0] = argmax; }
    return;
  }
  let m = fromKey(M);
  var s = Sets(0u, 0xffffffffu, 0u, 0xffffffffu);
  tieA[t] = 0u;
  tieB[t] = 0u;
  workgroupBarrier();

  // Top-k: the largest key tau with count(key >= tau) >= K.
  if (p.topK > 0u && p.topK < V) {
    var a = 0u;
    var b = M;
    while (a < b) {
      let mid = a + (b - a + 1u) / 2u;
      let c = u32(sumF(t, walk(t, lo, hi, s, 0u, mid, false, 0u, m).y));
      if (c >= p.topK) { a = mid; } else { b = mid - 1u; }
    }
    let above = u32(sumF(t, walk(t, lo, hi, s, 0u, a, true, 0u, m).y));
    var ties = 0u;
    for (var i = lo; i < hi; i++) { if (okey(logits[i]) == a) { ties++; } }
    scanInto(t, ties, 0u);
    s.tauA = a;
    s.needA = p.topK - above;
  }
  let ZA = sumF(t, walk(t, lo, hi, s, 0u, 0u, false, 1u, m).x);

  // Top-p: the largest key tau with weight(A, key >= tau) >= P·ZA, then enough of its ties.
  if (p.topP < 1.0) {
    let goal = p.topP * ZA;
    var a = 0u;
    var b = M;
    while (a < b) {
      let mid = a + (b - a + 1u) / 2u;
      if (sumF(t, walk(t, lo, hi, s, 0u, mid, false, 1u, m).x) >= goal) { a = mid; } else { b = mid - 1u; }
    }
    let above = sumF(t, walk(t, lo, hi, s, 0u, a, true, 1u, m).x);
    let ties = u32(sumF(t, walk(t, lo, hi, s, 0u, a, false, 0u, m).y)) - u32(sumF(t, walk(t, lo, hi, s, 0u, a, true, 0u, m).y));
    // A's ties at a, per thread, in index order (for B's tie ranks).
    var rankA = tieA[t];
    var mine = 0u;
    for (var i = lo; i < hi; i++) {
      let k = okey(logits[i]);
      var inA = k > s.tauA;
      if (k == s.tauA) {
        inA = rankA < s.needA;
        rankA++;
      }
      if (inA && k == a) { mine++; }
    }
    scanInto(t, mine, 1u);
    let wt = exp((fromKey(a) - m) / p.temperature); // every tie has this weight
    s.tauB = a;
    s.needB = clamp(u32(ceil((goal - above) / wt)), 1u, max(1u, ties));
  }
  let ZB = sumF(t, walk(t, lo, hi, s, 1u, 0u, false, 1u, m).x);

  // The pick: the largest key tau with weight(B, key >= tau) > u·ZB, then the tie by rank.
  let goal = uniform01() * ZB;
  var a = 0u;
  var b = M;
  while (a < b) {
    let mid = a + (b - a + 1u) / 2u;
    if (sumF(t, walk(t, lo, hi, s, 1u, mid, false, 1u, m).x) > goal) { a = mid; } else { b = mid - 1u; }
  }
  let above = sumF(t, walk(t, lo, hi, s, 1u, a, true, 1u, m).x);
  let inB = u32(sumF(t, walk(t, lo, hi, s, 1u, a, false, 0u, m).y)) - u32(sumF(t, walk(t, lo, hi, s, 1u, a, true, 0u, m).y));
  // The weight of a tie at key a, and which tie (in index order) the goal falls on.
  let wt = exp((fromKey(a) - m) / p.temperature);
  var r = u32(max(0.0, floor((goal - above) / wt)));
  r = min(r, max(1u, inB) - 1u);
  // Find B's r-th tie at key a: per-thread counts of B members at a, scanned.
  var rankA = tieA[t];
  var rankB = tieB[t];
  var mine = 0u;
  for (var i = lo; i < hi; i++) {
    let k = okey(logits[i]);
    var inA = k > s.tauA;
    if (k == s.tauA) {
      inA = rankA < s.needA;
      rankA++;
    }
    var inSetB = false;
    if (inA) {
      inSetB = k > s.tauB;
      if (k == s.tauB) {
        inSetB = rankB < s.needB;
        rankB++;
      }
    }
    if (inSetB && k == a) { mine++; }
  }
  redU[t] = mine;
  workgroupBarrier();
  var before = 0u;
  for (var j = 0u; j < t; j++) { before += redU[j]; }
  workgroupBarrier();
  if (r >= before && r < before + mine) {
    var seen = before;
    rankA = tieA[t];
    rankB = tieB[t];
    for (var i = lo; i < hi; i++) {
      let k = okey(logits[i]);
      var inA = k > s.tauA;
      if (k == s.tauA) {
        inA = rankA < s.needA;
        rankA++;
      }
      var inSetB = false;
      if (inA) {
        inSetB = k > s.tauB;
        if (k == s.tauB) {
          inSetB = rankB < s.needB;
          rankB++;
        }
      }
      if (inSetB && k == a) {
        if (seen == r) {
          out[0] = i;
          break;
        }
        seen++;
      }
    }
  }
}
