// matmul_sg.wgsl — the 'sg' variant of shaders/matmul.wgsl: same product, same Params and
// bindings, register tiling plus subgroup broadcasts. Its own file because it needs
// `enable subgroups;`, which would stop the other variants compiling on devices without it.
//
//   C[b] = alpha * op(A[b]) · op(B[b]) + beta * C[b]      (beta = 0 never reads C)
//   op(A) is (M, K): A stored (M, K) row-major, or (K, M) when TRANS_A
//   op(B) is (K, N): B stored (K, N) row-major, or (N, K) when TRANS_B
//   C: (M, N) row-major. Batch b offsets: b * strideA / strideB / strideC (0 = broadcast).
//
// Bindings: 0 Params, 1 A (read), 2 B (read), 3 C (rw)
// Algorithm: a workgroup is one row of WG threads that all own the same 16 rows of C; each
// thread owns a 16 x 8 tile (rows m..m+15, columns n..n+7) in eight mat4x4 accumulators
// and walks K four at a time. Because every thread needs the same 16 x 4 block of op(A),
// each group of 4 subgroup lanes loads it once (lane l loads one 4-vector per 4 rows) and
// subgroupBroadcast hands it to all lanes; only op(B), which differs per thread, is loaded
// by every thread (32 values). Per K step a thread does 512 multiply-adds for 16 + 32
// loads, against 64 loads for an 8x8 tile without subgroups. On SwiftShader (CPU), where
// every storage load is a per-lane gather, that is what bounds the speed; the broadcast is
// a register shuffle. Needs subgroup size >= 4 (WebGPU's minimum) and nothing about how
// lanes map to subgroups: all threads of a workgroup share the rows, lanes 0..3 of every
// subgroup load them.
// Edges: row and column indices are clamped into C (threads past an edge compute copies
// of the last row / column and do not store them), so edge tiles run the same loop as
// interior ones with no branches; K's last partial step (K % 4) is a separate, checked
// step that zeroes products past K. Subgroup operations stay in uniform control flow.
// Grid: (ceil(N / (8 WG)), ceil(M / 16), batch).

enable subgroups;

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override WG: u32 = 16;

struct Params {
  M: u32,
  N: u32,
  K: u32,
  strideA: u32,
  strideB: u32,
  strideC: u32,
  alpha: f32,
  beta: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;

// This lane's share of the 4x4 block of op(A) at rows m..m+3, columns k..k+3 (lane l of
// each group of 4): row m + l over k..k+3, or, when A is stored (K, M), column k + l over
// rows m..m+3. `k` may run past K (tail step): those values are zero.
fn ldA(a0: u32, m: u32, k: u32, l: u32) -> vec4f {
  let mL = p.M - 1u;
  if (TRANS_A) {
    let kk = min(k + l, p.K - 1u);
    let r = a0 + kk * p.M;
    let v = vec4(A[r + min(m, mL)], A[r + min(m + 1u, mL)], A[r + min(m + 2u, mL)], A[r + min(m + 3u, mL)]);
    return select(vec4f(), v, k + l < p.K);
  }
  let r = a0 + min(m + l, mL) * p.K;
  let kL = p.K - 1u;
  let v = vec4(A[r + min(k, kL)], A[r + min(k + 1u, kL)], A[r + min(k + 2u, kL)], A[r + min(k + 3u, kL)]);
  return select(vec4f(), v, k + vec4u(0u, 1u, 2u, 3u) < vec4u(p.K));
}

// The 4x4 block of op(A) at (m, k) for every lane, from the four loading lanes: column j
// is op(A)[m + j, k..k+3].
fn shareA(v: vec4f) -> mat4x4f {
  let q = mat4x4f(subgroupBroadcast(v, 0u), subgroupBroadcast(v, 1u), subgroupBroadcast(v, 2u), subgroupBroadcast(v, 3u));
  if (TRANS_A) { return transpose(q); }
  return q;
}

// 4x4 block of op(B): column c is op(B)[k + c, n..n+3]. Indices clamped into B; products
// past K are zeroed by ldA.
fn ldB(b0: u32, k: u32, n: u32) -> mat4x4f {
  let nL = p.N - 1u;
  let kL = p.K - 1u;
  let k0 = min(k, kL);
  let k1 = min(k + 1u, kL);
  let k2 = min(k + 2u, kL);
  let k3 = min(k + 3u, kL);
  if (TRANS_B) {
    let r0 = b0 + min(n, nL) * p.K;
    let r1 = b0 + min(n + 1u, nL) * p.K;
    let r2 = b0 + min(n + 2u, nL) * p.K;
    let r3 = b0 + min(n + 3u, nL) * p.K;
    return mat4x4f(
      vec4(B[r0 + k0], B[r1 + k0], B[r2 + k0], B[r3 + k0]),
      vec4(B[r0 + k1], B[r1 + k1], B[r2 + k1], B[r3 + k1]),
      vec4(B[r0 + k2], B[r1 + k2], B[r2 + k2], B[r3 + k2]),
      vec4(B[r0 + k3], B[r1 + k3], B[r2 + k3], B[r3 + k3]));
  }
  let c0 = b0 + min(n, nL);
  let c1 = b0 + min(n + 1u, nL);
  let c2 = b0 + min(n + 2u, nL);
  let c3 = b0 + min(n + 3u, nL);
  return mat4x4f(
    vec4(B[c0 + k0 * p.N], B[c1 + k0 * p.N], B[c2 + k0 * p.N], B[c3 + k0 * p.N]),
    vec4(B[c0 + k1 * p.N], B[c1 + k1 * p.N], B[c2 + k1 * p.N], B[c3 + k1 * p.N]),
    vec4(B[c0 + k2 * p.N], B[c1 + k2 * p.N], B[c2 + k2 * p.N], B[c3 + k2 * p.N]),
    vec4(B[c0 + k3 * p.N], B[c1 + k3 * p.N], B[c2 + k3 * p.N], B[c3 + k3 * p.N]));
}

// acc column j holds C[m + j, n..n+3].
fn store(c0: u32, m: u32, n: u32, acc: mat4x4f) {
  for (var j = 0u; j < 4u; j++) {
    for (var i = 0u; i < 4u; i++) {
      if (m + j < p.M && n + i < p.N) {
        let at = c0 + (m + j) * p.N + n + i;
        var v = p.alpha * acc[j][i];
        if (p.beta != 0.0) { v += p.beta * C[at]; }
        C[at] = v;
      }
    }
  }
}

// Four values of A / B at the given element indices.
fn gA(i: vec4u) -> vec4f { return vec4(A[i.x], A[i.y], A[i.z], A[i.w]); }
fn gB(i: vec4u) -> vec4f { return vec4(B[i.x], B[i.y], B[i.z], B[i.w]); }

// c{i}{j} += (4x4 block of op(B) at (k, n + 4j)) * (4x4 block of op(A) at (m + 4i, k)):
// the K step at k for all eight accumulators.
@compute @workgroup_size(WG, 1, 1)
fn sg(
  @builtin(workgroup_id) wg: vec3u,
  @builtin(local_invocation_index) li: u32,
  @builtin(subgroup_invocation_id) sl: u32,
) {
  let m = wg.y * 16u;
  let n = (wg.x * WG + li) * 8u;
  let l = sl & 3u;
  let b = wg.z;
  let a0 = b * p.strideA;
  let b0 = b * p.strideB;
  // c{row block}{column block}: rows m + 4i.., columns n + 4j..
  var c00 = mat4x4f(); var c01 = mat4x4f();
  var c10 = mat4x4f(); var c11 = mat4x4f();
  var c20 = mat4x4f(); var c21 = mat4x4f();
  var c30 = mat4x4f(); var c31 = mat4x4f();

  // Element indices at k = 0, rows / columns clamped into the matrices, and how far one
  // step of k moves them. This lane's A 4-vector for row block i: (row m + 4i + l,
  // k..k+3), or (k + l, rows m + 4i..+3) when TRANS_A. B for column block j at k + c:
  // (k + c, columns n + 4j..+3) over the columns.
  let u4 = vec4u(0u, 1u, 2u, 3u);
  let mL = vec4u(p.M - 1u);
  let nL = vec4u(p.N - 1u);
  var aI: array<vec4u, 4>;
  for (var i = 0u; i < 4u; i++) {
    if (TRANS_A) {
      aI[i] = a0 + l * p.M + min(m + 4u * i + u4, mL);
    } else {
      aI[i] = a0 + min(m + 4u * i + l, p.M - 1u) * p.K + u4;
    }
  }
  let aI0 = aI[0]; let aI1 = aI[1]; let aI2 = aI[2]; let aI3 = aI[3];
  let aStep = select(1u, p.M, TRANS_A);
  let bCol0 = min(n + u4, nL);
  let bCol1 = min(n + 4u + u4, nL);
  let bI0 = b0 + select(bCol0, bCol0 * p.K, TRANS_B);
  let bI1 = b0 + select(bCol1, bCol1 * p.K, TRANS_B);
  let bStep = select(p.N, 1u, TRANS_B);

  // Whole steps of 4: no checks (indices are clamped into range above).
  let k4 = p.K & ~3u;
  for (var k = 0u; k < k4; k += 4u) {
    let ka = k * aStep;
    let kb0 = k * bStep;
    let kb1 = kb0 + bStep;
    let kb2 = kb1 + bStep;
    let kb3 = kb2 + bStep;
    let b0m = mat4x4f(gB(bI0 + kb0), gB(bI0 + kb1), gB(bI0 + kb2), gB(bI0 + kb3));
    let b1m = mat4x4f(gB(bI1 + kb0), gB(bI1 + kb1), gB(bI1 + kb2), gB(bI1 + kb3));
    let q0 = shareA(gA(aI0 + ka));
    c00 += b0m * q0; c01 += b1m * q0;
    let q1 = shareA(gA(aI1 + ka));
    c10 += b0m * q1; c11 += b1m * q1;
    let q2 = shareA(gA(aI2 + ka));
    c20 += b0m * q2; c21 += b1m * q2;
    let q3 = shareA(gA(aI3 + ka));
    c30 += b0m * q3; c31 += b1m * q3;
  }
  // The last, partial step (K % 4 != 0): checked loads, zero past K. `k4 < p.K` is
  // uniform, so the broadcasts stay in uniform control flow.
  if (k4 < p.K) {
    let b0m = ldB(b0, k4, n);
    let b1m = ldB(b0, k4, n + 4u);
    let q0 = shareA(ldA(a0, m, k4, l));
    c00 += b0m * q0; c01 += b1m * q0;
    let q1 = shareA(ldA(a0, m + 4u, k4, l));
    c10 += b0m * q1; c11 += b1m * q1;
    let q2 = shareA(ldA(a0, m + 8u, k4, l));
    c20 += b0m * q2; c21 += b1m * q2;
    let q3 = shareA(ldA(a0, m + 12u, k4, l));
    c30 += b0m * q3; c31 += b1m * q3;
  }
  let cb = b * p.strideC;
  store(cb, m, n, c00); store(cb, m, n + 4u, c01);
  store(cb, m + 4u, n, c10); store(cb, m + 4u, n + 4u, c11);
  store(cb, m + 8u, n, c20); store(cb, m + 8u, n + 4u, c21);
  store(cb, m + 12u, n, c30); store(cb, m + 12u, n + 4u, c31);
}
