// gradnorm.wgsl — global gradient L2 norm over many buffers, and the clip factor.
//
//   sumsq:    partials[base + t] = Σ g[i]² over i in [t·CH, (t+1)·CH) ∩ [0, n)
//   finalize: norm = √(Σ partials[0..count));  out = [norm, scale],
//             scale = maxNorm > 0 ? min(1, maxNorm / (norm + 1e-6)) : 1   (clip_grad_norm_)
// A NaN or Inf in any gradient makes norm non-finite; the trainer reads it and stops.
// Algorithm: barrier-free two-pass reduction, no float atomics: one thread per chunk of CH
// values per buffer, then one thread over the partials (count = Σ ceil(n_b / CH)).
// Bindings: sumsq 1 g, 2 partials (rw); finalize 1 partials, 2 out (rw)
// Grid: sumsq 1-D over ceil(n / CH), folded past 65535 workgroups; finalize (1).

override WG: u32 = 64;
override CH: u32 = 256;

struct Params {
  n: u32,
  base: u32,
  maxNorm: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(WG)
fn sumsq(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = gid.x + gid.y * nwg.x * WG;
  let start = t * CH;
  if (start >= p.n) { return; }
  let end = min(start + CH, p.n);
  var s = 0.0;
  for (var i = start; i < end; i++) { s += src[i] * src[i]; }
  dst[p.base + t] = s;
}

@compute @workgroup_size(1)
fn finalize() {
  var s = 0.0;
  for (var i = 0u; i < p.n; i++) { s += src[i]; }
  let norm = sqrt(s);
  dst[0] = norm;
  dst[1] = select(1.0, min(1.0, p.maxNorm / (norm + 1e-6)), p.maxNorm > 0.0);
}
