// matmul.wgsl — batched f32 matrix product with the three layouts training needs.
//
//   C[b] = alpha * op(A[b]) · op(B[b]) + beta * C[b]      (beta = 0 never reads C)
//   op(A) is (M, K): A stored (M, K) row-major, or (K, M) when TRANS_A
//   op(B) is (K, N): B stored (K, N) row-major, or (N, K) when TRANS_B
//   C: (M, N) row-major. Batch b offsets: b * strideA / strideB / strideC (0 = broadcast).
//   Linear layers use: Y = X·Wᵀ  (NT: TRANS_B), dX = dY·W (NN), dW = dYᵀ·X (TN: TRANS_A).
//
// Bindings: 0 Params, 1 A (read), 2 B (read), 3 C (rw)
// Variants (entry points):
//   reg    barrier-free register tiling. Each thread owns an 8x8 tile of C as four mat4x4
//          accumulators and walks K four at a time, loading two 4x4 blocks of op(A) and
//          two of op(B) (64 loads for 256 FMAs). No workgroup memory, so no barriers, which
//          is what SwiftShader (CPU) wants: it turns every barrier into coroutine switches,
//          and its per-lane loads, not arithmetic, bound the speed.
//          Grid: (ceil(N / (8 WG_X)), ceil(M / (8 WG_Y)), batch).
//   tiled  workgroup-memory tiling for real GPUs: 16x16 threads stage a (64 x 16) slice of
//          op(A) and a (16 x 64) slice of op(B) in shared memory per K step, then each
//          thread accumulates a 4x4 tile of the 64x64 C tile. Grid: (ceil(N/64), ceil(M/64), batch).
//   tiled128  the same with a 128x64 C tile, slices staged as vec4 and 8x4 outputs per thread
//          (12 KiB of workgroup memory). Grid: (ceil(N/64), ceil(M/128), batch).
// Tiles entirely inside C take an unchecked fast path; edge tiles load with bounds checks.
// A third variant, 'sg' (register tiling with subgroup broadcasts), is shaders/matmul_sg.wgsl:
// it needs `enable subgroups;`, which would stop this file compiling without the feature.

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override WG_X: u32 = 8;
override WG_Y: u32 = 8;

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

// op(A)[m, k] and op(B)[k, n] without bounds checks; `a0`, `b0` are batch offsets.
fn ldA(a0: u32, m: u32, k: u32) -> f32 {
  if (TRANS_A) { return A[a0 + k * p.M + m]; }
  return A[a0 + m * p.K + k];
}
fn ldB(b0: u32, k: u32, n: u32) -> f32 {
  if (TRANS_B) { return B[b0 + n * p.K + k]; }
  return B[b0 + k * p.N + n];
}
// With bounds checks: zero outside op(A) / op(B).
fn ldAc(a0: u32, m: u32, k: u32) -> f32 {
  if (m < p.M && k < p.K) { return ldA(a0, m, k); }
  return 0.0;
}
fn ldBc(b0: u32, k: u32, n: u32) -> f32 {
  if (k < p.K && n < p.N) { return ldB(b0, k, n); }
  return 0.0;
}

// 4x4 block of op(A) at (m, k) as a matrix whose column c is op(A)[m..m+3, k + c].
fn blockA(a0: u32, m: u32, k: u32) -> mat4x4<f32> {
  if (TRANS_A) {
    // Contiguous along m for a fixed k: load columns directly.
    let r0 = a0 + k * p.M + m;
    return mat4x4<f32>(
      vec4(A[r0], A[r0 + 1u], A[r0 + 2u], A[r0 + 3u]),
      vec4(A[r0 + p.M], A[r0 + p.M + 1u], A[r0 + p.M + 2u], A[r0 + p.M + 3u]),
      vec4(A[r0 + 2u * p.M], A[r0 + 2u * p.M + 1u], A[r0 + 2u * p.M + 2u], A[r0 + 2u * p.M + 3u]),
      vec4(A[r0 + 3u * p.M], A[r0 + 3u * p.M + 1u], A[r0 + 3u * p.M + 2u], A[r0 + 3u * p.M + 3u]));
  }
  // Contiguous along k for a fixed m: load rows, then transpose.
  let r0 = a0 + m * p.K + k;
  return transpose(mat4x4<f32>(
    vec4(A[r0], A[r0 + 1u], A[r0 + 2u], A[r0 + 3u]),
    vec4(A[r0 + p.K], A[r0 + p.K + 1u], A[r0 + p.K + 2u], A[r0 + p.K + 3u]),
    vec4(A[r0 + 2u * p.K], A[r0 + 2u * p.K + 1u], A[r0 + 2u * p.K + 2u], A[r0 + 2u * p.K + 3u]),
    vec4(A[r0 + 3u * p.K], A[r0 + 3u * p.K + 1u], A[r0 + 3u * p.K + 2u], A[r0 + 3u * p.K + 3u])));
}

// 4x4 block of op(B) at (k, n) as a matrix whose column j is op(B)[k..k+3, n + j].
fn blockB(b0: u32, k: u32, n: u32) -> mat4x4<f32> {
  if (TRANS_B) {
    let r0 = b0 + n * p.K + k;
    return mat4x4<f32>(
      vec4(B[r0], B[r0 + 1u], B[r0 + 2u], B[r0 + 3u]),
      vec4(B[r0 + p.K], B[r0 + p.K + 1u], B[r0 + p.K + 2u], B[r0 + p.K + 3u]),
      vec4(B[r0 + 2u * p.K], B[r0 + 2u * p.K + 1u], B[r0 + 2u * p.K + 2u], B[r0 + 2u * p.K + 3u]),
      vec4(B[r0 + 3u * p.K], B[r0 + 3u * p.K + 1u], B[r0 + 3u * p.K + 2u], B[r0 + 3u * p.K + 3u]));
  }
  let r0 = b0 + k * p.N + n;
  return transpose(mat4x4<f32>(
    vec4(B[r0], B[r0 + 1u], B[r0 + 2u], B[r0 + 3u]),
    vec4(B[r0 + p.N], B[r0 + p.N + 1u], B[r0 + p.N + 2u], B[r0 + p.N + 3u]),
    vec4(B[r0 + 2u * p.N], B[r0 + 2u * p.N + 1u], B[r0 + 2u * p.N + 2u], B[r0 + 2u * p.N + 3u]),
    vec4(B[r0 + 3u * p.N], B[r0 + 3u * p.N + 1u], B[r0 + 3u * p.N + 2u], B[r0 + 3u * p.N + 3u])));
}

fn blockAc(a0: u32, m: u32, k: u32) -> mat4x4<f32> {
  var r: mat4x4<f32>;
  for (var c = 0u; c < 4u; c++) {
    r[c] = vec4(ldAc(a0, m, k + c), ldAc(a0, m + 1u, k + c), ldAc(a0, m + 2u, k + c), ldAc(a0, m + 3u, k + c));
  }
  return r;
}
fn blockBc(b0: u32, k: u32, n: u32) -> mat4x4<f32> {
  var r: mat4x4<f32>;
  for (var j = 0u; j < 4u; j++) {
    r[j] = vec4(ldBc(b0, k, n + j), ldBc(b0, k + 1u, n + j), ldBc(b0, k + 2u, n + j), ldBc(b0, k + 3u, n + j));
  }
  return r;
}

// acc column j holds C[m..m+3, n + j].
fn store(c0: u32, m: u32, n: u32, acc: mat4x4<f32>) {
  for (var j = 0u; j < 4u; j++) {
    for (var i = 0u; i < 4u; i++) {
      if (m + i < p.M && n + j < p.N) {
        let at = c0 + (m + i) * p.N + n + j;
        var v = p.alpha * acc[j][i];
        if (p.beta != 0.0) { v += p.beta * C[at]; }
        C[at] = v;
      }
    }
  }
}

// ---- tiled: workgroup-memory staging -------------------------------------------------
// Fixed 16x16 threads, 64x64 C tile per workgroup, K step 16.
const TT = 16u;   // threads per side
const TS = 64u;   // tile side in C
const TK = 16u;   // K step
var<workgroup> sA: array<f32, 1024>;  // (TK, TS): sA[k * TS + m]
var<workgroup> sB: array<f32, 1024>;  // (TK, TS): sB[k * TS + n]

@compute @workgroup_size(16, 16, 1)
fn tiled(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let b = wg.z;
  let a0 = b * p.strideA;
  let b0 = b * p.strideB;
  let mT = wg.y * TS;
  let nT = wg.x * TS;
  let t = lid.y * TT + lid.x;
  var acc = mat4x4<f32>();
  for (var k0 = 0u; k0 < p.K; k0 += TK) {
    // 256 threads stage 1024 values of each slice: 4 each.
    for (var r = 0u; r < 4u; r++) {
      let e = t + r * 256u;
      let kk = e / TS;
      let mm = e % TS;
      sA[e] = ldAc(a0, mT + mm, k0 + kk);
      sB[e] = ldBc(b0, k0 + kk, nT + mm);
    }
    workgroupBarrier();
    let mi = lid.y * 4u;
    let nj = lid.x * 4u;
    for (var kk = 0u; kk < TK; kk++) {
      let av = vec4(sA[kk * TS + mi], sA[kk * TS + mi + 1u], sA[kk * TS + mi + 2u], sA[kk * TS + mi + 3u]);
      let bv = vec4(sB[kk * TS + nj], sB[kk * TS + nj + 1u], sB[kk * TS + nj + 2u], sB[kk * TS + nj + 3u]);
      acc[0] += av * bv.x;
      acc[1] += av * bv.y;
      acc[2] += av * bv.z;
      acc[3] += av * bv.w;
    }
    workgroupBarrier();
  }
  store(b * p.strideC, mT + lid.y * 4u, nT + lid.x * 4u, acc);
}

// ---- tiled128: a 128x64 C tile, vec4 workgroup reads, 8x4 outputs per thread ------------
// 16x16 threads; per K step of 16 they stage a (16 x 128) slice of op(A) and a (16 x 64)
// slice of op(B) as vec4 (four consecutive m, or n) in workgroup memory (12 KiB), then
// thread (x, y) accumulates rows 4y .. 4y+3 and 64 + 4y .. 64 + 4y+3 of the tile against
// columns 4x .. 4x+3: three vec4 reads from workgroup memory per 32 multiply-adds.
// Grid: (ceil(N/64), ceil(M/128), batch).
var<workgroup> sA4: array<vec4f, 512>;  // (16, 32): sA4[k * 32 + i] = op(A)[4i .. 4i+3, k]
var<workgroup> sB4: array<vec4f, 256>;  // (16, 16): sB4[k * 16 + j] = op(B)[k, 4j .. 4j+3]

@compute @workgroup_size(16, 16, 1)
fn tiled128(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let b = wg.z;
  let a0 = b * p.strideA;
  let b0 = b * p.strideB;
  let mT = wg.y * 128u;
  let nT = wg.x * 64u;
  let t = lid.y * 16u + lid.x;
  var c0 = mat4x4<f32>();  // column j: C[mT + 4y .. +3, nT + 4x + j]
  var c1 = mat4x4<f32>();  // the same 64 rows further down
  for (var k0 = 0u; k0 < p.K; k0 += 16u) {
    for (var r = 0u; r < 2u; r++) {
      let e = t + r * 256u;
      let kk = k0 + e / 32u;
      let m = mT + 4u * (e % 32u);
      sA4[e] = vec4f(ldAc(a0, m, kk), ldAc(a0, m + 1u, kk), ldAc(a0, m + 2u, kk), ldAc(a0, m + 3u, kk));
    }
    {
      let kk = k0 + t / 16u;
      let n = nT + 4u * (t % 16u);
      sB4[t] = vec4f(ldBc(b0, kk, n), ldBc(b0, kk, n + 1u), ldBc(b0, kk, n + 2u), ldBc(b0, kk, n + 3u));
    }
    workgroupBarrier();
    for (var kk = 0u; kk < 16u; kk++) {
      let av = sA4[kk * 32u + lid.y];
      let aw = sA4[kk * 32u + 16u + lid.y];
      let bv = sB4[kk * 16u + lid.x];
      c0 += mat4x4<f32>(av * bv.x, av * bv.y, av * bv.z, av * bv.w);
      c1 += mat4x4<f32>(aw * bv.x, aw * bv.y, aw * bv.z, aw * bv.w);
    }
    workgroupBarrier();
  }
  store(b * p.strideC, mT + 4u * lid.y, nT + 4u * lid.x, c0);
  store(b * p.strideC, mT + 64u + 4u * lid.y, nT + 4u * lid.x, c1);
}

@compute @workgroup_size(WG_X, WG_Y, 1)
fn reg(@builtin(global_invocation_id) gid: vec3u) {
  let n = gid.x * 8u;
  let m = gid.y * 8u;
  let b = gid.z;
  if (m >= p.M || n >= p.N) { return; }
  let a0 = b * p.strideA;
  let b0 = b * p.strideB;
  var c00 = mat4x4<f32>();
  var c01 = mat4x4<f32>();
  var c10 = mat4x4<f32>();
  var c11 = mat4x4<f32>();
  let k4 = p.K & ~3u;
  var k0 = 0u;  // where the bounds-checked loop starts
  if (m + 8u <= p.M && n + 8u <= p.N) {
    for (var k = 0u; k < k4; k += 4u) {
      let a0b = blockA(a0, m, k);
      let a1b = blockA(a0, m + 4u, k);
      let b0b = blockB(b0, k, n);
      let b1b = blockB(b0, k, n + 4u);
      c00 += a0b * b0b;
      c01 += a0b * b1b;
      c10 += a1b * b0b;
      c11 += a1b * b1b;
    }
    k0 = k4;
  }
  {
    for (var k = k0; k < p.K; k += 4u) {
      let a0b = blockAc(a0, m, k);
      let a1b = blockAc(a0, m + 4u, k);
      let b0b = blockBc(b0, k, n);
      let b1b = blockBc(b0, k, n + 4u);
      c00 += a0b * b0b;
      c01 += a0b * b1b;
      c10 += a1b * b0b;
      c11 += a1b * b1b;
    }
  }
  store(b * p.strideC, m, n, c00);
  store(b * p.strideC, m, n + 4u, c01);
  store(b * p.strideC, m + 4u, n, c10);
  store(b * p.strideC, m + 4u, n + 4u, c11);
}
