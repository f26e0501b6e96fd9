// gemv.wgsl — f32 matrix-vector products for decoding: Y (M, N) = X (M, K) · op(W) + beta·Y
// with a few rows of X (M <= 8: one generated token, or a short prompt), reading every weight
// once. op(W) = Wᵀ for W stored (N, K) (nn.Linear) or W for W stored (K, N) (GPT-2's
// Conv1D). beta = 0 never reads Y.
//
// W is the whole cost (M·K·4 bytes of X against N·K·4 of W), so each entry streams W once
// and applies every row of X to what it loaded:
//   row_v  (W (N, K), K % 4 == 0) a thread per 4 consecutive rows of W, the whole K loop,
//          one vec4 of each row per step against one vec4 of each row of X. Barrier-free:
//          what SwiftShader (a CPU) wants. `row` is the same for any K (scalar loads, a
//          masked tail).
//   split_v (W (N, K), K % 4 == 0) split-K across a workgroup, for real GPUs and small N: a
//          workgroup of WG threads per 4 rows of W, thread t reads vec4 t, t + WG, … of each
//          row (consecutive threads read consecutive 16 bytes: coalesced), then one barrier
//          and a fixed-order sum in workgroup memory (MR · 4 · WG floats <= 16 KiB: WG <= 128).
//   cols_v (W (K, N), N % 4 == 0) a thread per 4 consecutive columns: per k one vec4 of W
//          against X[m, k] (coalesced across threads). `cols` the same for any N.
// Accumulators are named variables, never dynamically indexed private arrays: SwiftShader
// keeps such an array in memory and pays a gather per access (measured 4x slower). MR (the
// rows of X) is an override, so the branches on it are constant and compile away.
//
// Bindings: 0 Params, 1 X (read; X4 its vec4 view), 2 W (read; W4), 3 Y (rw)
// Grid: row(_v), cols(_v): ceil(N / (4·WG)) (folded past 65535: i = gid.x + gid.y·nwg.x·WG);
//       split_v: ceil(N / 4) workgroups (folded: r = wid.x + wid.y·nwg.x).

override MR: u32 = 1u;   // rows of X, 1..8
override WG: u32 = 64u;  // threads per workgroup (split_v: a power of two, 32..128)

struct Params {
  M: u32,
  N: u32,
  K: u32,
  beta: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> X4: array<vec4f>;
@group(0) @binding(2) var<storage, read> W: array<f32>;
@group(0) @binding(2) var<storage, read> W4: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;

fn put(m: u32, n: u32, v: f32) {
  if (m >= p.M || n >= p.N) { return; }
  let at = m * p.N + n;
  var y = v;
  if (p.beta != 0.0) { y += p.beta * Y[at]; }
  Y[at] = y;
}

fn fma4(a: mat4x4f, x: vec4f, w: mat4x4f) -> mat4x4f {
  return mat4x4f(a[0] + x * w[0], a[1] + x * w[1], a[2] + x * w[2], a[3] + x * w[3]);
}

// Row m of X (clamped to the last) as an element offset.
fn xrow(m: u32) -> u32 { return min(m, p.M - 1u) * p.K; }

// X[m, k .. k+3] by scalar loads; elements k + j >= K read as 0 (a masked tail). Likewise W.
fn xs(o: u32, k: u32) -> vec4f {
  return vec4f(X[o + k], select(0.0, X[o + k + 1u], k + 1u < p.K), select(0.0, X[o + k + 2u], k + 2u < p.K), select(0.0, X[o + k + 3u], k + 3u < p.K));
}
fn ws(o: u32, k: u32) -> vec4f {
  return vec4f(W[o + k], select(0.0, W[o + k + 1u], k + 1u < p.K), select(0.0, W[o + k + 2u], k + 2u < p.K), select(0.0, W[o + k + 3u], k + 3u < p.K));
}

fn hsum(a: mat4x4f) -> vec4f {
  let one = vec4f(1.0);
  return vec4f(dot(a[0], one), dot(a[1], one), dot(a[2], one), dot(a[3], one));
}
fn put4(m: u32, n0: u32, a: mat4x4f) {
  if (m >= MR) { return; }
  let s = hsum(a);
  put(m, n0, s.x); put(m, n0 + 1u, s.y); put(m, n0 + 2u, s.z); put(m, n0 + 3u, s.w);
}

// Rows n0 .. n0+3 clamped into range, as element offsets of their starts.
fn rows4(n0: u32) -> vec4u {
  return min(vec4u(n0) + vec4u(0u, 1u, 2u, 3u), vec4u(p.N - 1u)) * p.K;
}

// In the entry points, accumulator a<m> (a 4x4 matrix: column c holds the partial sums of W
// row n0 + c) serves row m of X; the rows past MR are never touched.

@compute @workgroup_size(WG)
fn row_v(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let n0 = (gid.x + gid.y * nwg.x * WG) * 4u;
  if (n0 >= p.N) { return; }
  let o = rows4(n0) / 4u;
  let x = vec4u(xrow(1u), xrow(2u), xrow(3u), xrow(4u)) / 4u;
  let y = vec3u(xrow(5u), xrow(6u), xrow(7u)) / 4u;
  var a0 = mat4x4f(); var a1 = mat4x4f(); var a2 = mat4x4f(); var a3 = mat4x4f();
  var a4 = mat4x4f(); var a5 = mat4x4f(); var a6 = mat4x4f(); var a7 = mat4x4f();
  for (var k = 0u; k < p.K / 4u; k++) {
    let w = mat4x4f(W4[o.x + k], W4[o.y + k], W4[o.z + k], W4[o.w + k]);
    a0 = fma4(a0, X4[k], w);
    if (MR > 1u) { a1 = fma4(a1, X4[x.x + k], w); }
    if (MR > 2u) { a2 = fma4(a2, X4[x.y + k], w); }
    if (MR > 3u) { a3 = fma4(a3, X4[x.z + k], w); }
    if (MR > 4u) { a4 = fma4(a4, X4[x.w + k], w); }
    if (MR > 5u) { a5 = fma4(a5, X4[y.x + k], w); }
    if (MR > 6u) { a6 = fma4(a6, X4[y.y + k], w); }
    if (MR > 7u) { a7 = fma4(a7, X4[y.z + k], w); }
  }
  put4(0u, n0, a0); put4(1u, n0, a1); put4(2u, n0, a2); put4(3u, n0, a3);
  put4(4u, n0, a4); put4(5u, n0, a5); put4(6u, n0, a6); put4(7u, n0, a7);
}

@compute @workgroup_size(WG)
fn row(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let n0 = (gid.x + gid.y * nwg.x * WG) * 4u;
  if (n0 >= p.N) { return; }
  let o = rows4(n0);
  let x = vec4u(xrow(1u), xrow(2u), xrow(3u), xrow(4u));
  let y = vec3u(xrow(5u), xrow(6u), xrow(7u));
  var a0 = mat4x4f(); var a1 = mat4x4f(); var a2 = mat4x4f(); var a3 = mat4x4f();
  var a4 = mat4x4f(); var a5 = mat4x4f(); var a6 = mat4x4f(); var a7 = mat4x4f();
  for (var k = 0u; k < p.K; k += 4u) {
    let w = mat4x4f(ws(o.x, k), ws(o.y, k), ws(o.z, k), ws(o.w, k));
    a0 = fma4(a0, xs(0u, k), w);
    if (MR > 1u) { a1 = fma4(a1, xs(x.x, k), w); }
    if (MR > 2u) { a2 = fma4(a2, xs(x.y, k), w); }
    if (MR > 3u) { a3 = fma4(a3, xs(x.z, k), w); }
    if (MR > 4u) { a4 = fma4(a4, xs(x.w, k), w); }
    if (MR > 5u) { a5 = fma4(a5, xs(y.x, k), w); }
    if (MR > 6u) { a6 = fma4(a6, xs(y.y, k), w); }
    if (MR > 7u) { a7 = fma4(a7, xs(y.z, k), w); }
  }
  put4(0u, n0, a0); put4(1u, n0, a1); put4(2u, n0, a2); put4(3u, n0, a3);
  put4(4u, n0, a4); put4(5u, n0, a5); put4(6u, n0, a6); put4(7u, n0, a7);
}

var<workgroup> red: array<f32, 4096>;  // [(m · 4 + c) · WG + t]

fn stash(m: u32, a: mat4x4f, t: u32) {
  if (m >= MR) { return; }
  let s = hsum(a);
  red[(m * 4u) * WG + t] = s.x;
  red[(m * 4u + 1u) * WG + t] = s.y;
  red[(m * 4u + 2u) * WG + t] = s.z;
  red[(m * 4u + 3u) * WG + t] = s.w;
}

@compute @workgroup_size(WG)
fn split_v(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let n0 = (wid.x + wid.y * nwg.x) * 4u;
  let t = lid.x;
  let o = rows4(n0) / 4u;
  let x = vec4u(xrow(1u), xrow(2u), xrow(3u), xrow(4u)) / 4u;
  let y = vec3u(xrow(5u), xrow(6u), xrow(7u)) / 4u;
  var a0 = mat4x4f(); var a1 = mat4x4f(); var a2 = mat4x4f(); var a3 = mat4x4f();
  var a4 = mat4x4f(); var a5 = mat4x4f(); var a6 = mat4x4f(); var a7 = mat4x4f();
  for (var k = t; k < p.K / 4u; k += WG) {
    let w = mat4x4f(W4[o.x + k], W4[o.y + k], W4[o.z + k], W4[o.w + k]);
    a0 = fma4(a0, X4[k], w);
    if (MR > 1u) { a1 = fma4(a1, X4[x.x + k], w); }
    if (MR > 2u) { a2 = fma4(a2, X4[x.y + k], w); }
    if (MR > 3u) { a3 = fma4(a3, X4[x.z + k], w); }
    if (MR > 4u) { a4 = fma4(a4, X4[x.w + k], w); }
    if (MR > 5u) { a5 = fma4(a5, X4[y.x + k], w); }
    if (MR > 6u) { a6 = fma4(a6, X4[y.y + k], w); }
    if (MR > 7u) { a7 = fma4(a7, X4[y.z + k], w); }
  }
  stash(0u, a0, t); stash(1u, a1, t); stash(2u, a2, t); stash(3u, a3, t);
  stash(4u, a4, t); stash(5u, a5, t); stash(6u, a6, t); stash(7u, a7, t);
  workgroupBarrier();
  // One barrier, then thread i < MR·4 sums its output's WG partials in a fixed order (a
  // tree of barriers costs more than these WG loads; on SwiftShader each barrier is a round
  // of coroutine switches).
  if (t < MR * 4u) {
    var sum = 0.0;
    for (var j = 0u; j < WG; j++) { sum += red[t * WG + j]; }
    put(t / 4u, n0 + t % 4u, sum);
  }
}

// ---- W stored (K, N): a thread per 4 columns --------------------------------------------

fn putQ(m: u32, c0: u32, s: vec4f) {
  if (m >= MR) { return; }
  put(m, c0, s.x); put(m, c0 + 1u, s.y); put(m, c0 + 2u, s.z); put(m, c0 + 3u, s.w);
}

@compute @workgroup_size(WG)
fn cols_v(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let c0 = (gid.x + gid.y * nwg.x * WG) * 4u;
  if (c0 >= p.N) { return; }
  let x = vec4u(xrow(1u), xrow(2u), xrow(3u), xrow(4u));
  let y = vec3u(xrow(5u), xrow(6u), xrow(7u));
  var a0 = vec4f(); var a1 = vec4f(); var a2 = vec4f(); var a3 = vec4f();
  var a4 = vec4f(); var a5 = vec4f(); var a6 = vec4f(); var a7 = vec4f();
  for (var k = 0u; k < p.K; k++) {
    let w = W4[(k * p.N + c0) / 4u];
    a0 += X[k] * w;
    if (MR > 1u) { a1 += X[x.x + k] * w; }
    if (MR > 2u) { a2 += X[x.y + k] * w; }
    if (MR > 3u) { a3 += X[x.z + k] * w; }
    if (MR > 4u) { a4 += X[x.w + k] * w; }
    if (MR > 5u) { a5 += X[y.x + k] * w; }
    if (MR > 6u) { a6 += X[y.y + k] * w; }
    if (MR > 7u) { a7 += X[y.z + k] * w; }
  }
  putQ(0u, c0, a0); putQ(1u, c0, a1); putQ(2u, c0, a2); putQ(3u, c0, a3);
  putQ(4u, c0, a4); putQ(5u, c0, a5); putQ(6u, c0, a6); putQ(7u, c0, a7);
}

@compute @workgroup_size(WG)
fn cols(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let c0 = (gid.x + gid.y * nwg.x * WG) * 4u;
  if (c0 >= p.N) { return; }
  let c = min(vec4u(c0) + vec4u(0u, 1u, 2u, 3u), vec4u(p.N - 1u));
  let x = vec4u(xrow(1u), xrow(2u), xrow(3u), xrow(4u));
  let y = vec3u(xrow(5u), xrow(6u), xrow(7u));
  var a0 = vec4f(); var a1 = vec4f(); var a2 = vec4f(); var a3 = vec4f();
  var a4 = vec4f(); var a5 = vec4f(); var a6 = vec4f(); var a7 = vec4f();
  for (var k = 0u; k < p.K; k++) {
    let r = k * p.N;
    let w = vec4f(W[r + c.x], W[r + c.y], W[r + c.z], W[r + c.w]);
    a0 += X[k] * w;
    if (MR > 1u) { a1 += X[x.x + k] * w; }
    if (MR > 2u) { a2 += X[x.y + k] * w; }
    if (MR > 3u) { a3 += X[x.z + k] * w; }
    if (MR > 4u) { a4 += X[x.w + k] * w; }
    if (MR > 5u) { a5 += X[y.x + k] * w; }
    if (MR > 6u) { a6 += X[y.y + k] * w; }
    if (MR > 7u) { a7 += X[y.z + k] * w; }
  }
  putQ(0u, c0, a0); putQ(1u, c0, a1); putQ(2u, c0, a2); putQ(3u, c0, a3);
  putQ(4u, c0, a4); putQ(5u, c0, a5); putQ(6u, c0, a6); putQ(7u, c0, a7);
}
