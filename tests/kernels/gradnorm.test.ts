import { describe, expect, it } from 'vitest';
import { applyClip, gradNorm, gradNormPartials } from '../../src/engine/kernels/gradnorm.ts';
import { applyClipRef, gradNormRef } from '../../src/engine/kernels/gradnorm.ref.ts';
import { expectClose, randn, testGpu, upload, zeros } from '../helpers/gpu.ts';

// Sums of up to ~7e4 squares in f32 (64 per thread, 64 per tile, then ≤ 256-way): rtol 1e-5.
const ATOL = 1e-6;
const RTOL = 1e-5;

describe('global gradient norm', () => {
  it('over buffers of sizes 1, 1000 and 70001 matches the reference; clip factor per clip_grad_norm_', async () => {
    const gpu = await testGpu();
    const grads = [randn(1, 1), randn(1000, 2), randn(70001, 3, -0.1, 0.1)];
    expect(gradNormPartials(grads.map((g) => g.length))).toBe(1 + 1 + 18); // 70001 spans 18 tiles of 4096
    const bufs = await Promise.all(grads.map((g) => upload(gpu, g, 'gradients')));
    const partials = await zeros(gpu, gradNormPartials(grads.map((g) => g.length)), 'scratch');
    const out = await zeros(gpu, 2);
    for (const maxNorm of [1, 100, 0]) {
      gradNorm(gpu, bufs.map((buf, i) => ({ buf, n: grads[i].length })), partials, out, maxNorm);
      const ref = gradNormRef(grads, maxNorm);
      expectClose(await gpu.readF32(out), [ref.norm, ref.scale], ATOL, RTOL, `maxNorm ${maxNorm}`);
    }
    expect(gradNormRef(grads, 1).scale).toBeLessThan(1);
    expect(gradNormRef(grads, 100).scale).toBe(1);
    for (const b of [...bufs, partials, out]) b.release();
  });

  it('hand-computed: ‖(3, 4)‖ = 5, clipped to 1 gives scale 1/(5 + 1e-6)', async () => {
    const gpu = await testGpu();
    const [a, b] = [await upload(gpu, Float32Array.of(3)), await upload(gpu, Float32Array.of(4))];
    const partials = await zeros(gpu, 2);
    const out = await zeros(gpu, 2);
    gradNorm(gpu, [{ buf: a, n: 1 }, { buf: b, n: 1 }], partials, out, 1);
    const got = await gpu.readF32(out);
    expect(got[0]).toBe(5);
    expect(got[1]).toBeCloseTo(1 / (5 + 1e-6), 7);
    for (const x of [a, b, partials, out]) x.release();
  });

  it('many small buffers: more partials than the finalize workgroup (300 > 256), empty buffers skipped', async () => {
    const gpu = await testGpu();
    const grads = Array.from({ length: 300 }, (_, k) => randn(1 + (k % 5), 100 + k));
    grads.push(new Float32Array(0));
    const bufs = await Promise.all(grads.map((g) => upload(gpu, g.length ? g : new Float32Array(1), 'gradients')));
    const partials = await zeros(gpu, gradNormPartials(grads.map((g) => g.length)), 'scratch');
    const out = await zeros(gpu, 2);
    gradNorm(gpu, bufs.map((buf, i) => ({ buf, n: grads[i].length })), partials, out, 2);
    const ref = gradNormRef(grads, 2);
    expectClose(await gpu.readF32(out), [ref.norm, ref.scale], ATOL, RTOL, '300 buffers');
    for (const b of [...bufs, partials, out]) b.release();
  });

  it('a NaN or Inf gradient gives a non-finite norm and scale 0', async () => {
    const gpu = await testGpu();
    for (const bad of [NaN, Infinity, -Infinity]) {
      const g = randn(5000, 4);
      g[4097] = bad; // in the second tile
      const b = await upload(gpu, g);
      const partials = await zeros(gpu, gradNormPartials([5000]));
      const out = await zeros(gpu, 2);
      gradNorm(gpu, [{ buf: b, n: 5000 }], partials, out, 1);
      const [norm, scale] = await gpu.readF32(out);
      expect(Number.isFinite(norm), `norm with ${bad}`).toBe(false);
      expect(scale).toBe(0);
      expect(gradNormRef([g], 1).scale).toBe(0);
      for (const x of [b, partials, out]) x.release();
    }
  });

  it('applyClip scales a gradient in place by the clip factor', async () => {
    const gpu = await testGpu();
    const g = randn(1025, 7, -3, 3);
    const bg = await upload(gpu, g);
    const partials = await zeros(gpu, gradNormPartials([1025]));
    const clip = await zeros(gpu, 2);
    gradNorm(gpu, [{ buf: bg, n: 1025 }], partials, clip, 0.5);
    const { scale } = gradNormRef([g], 0.5);
    applyClip(gpu, bg, 1025, clip);
    expectClose(await gpu.readF32(bg), applyClipRef(g, scale), ATOL, RTOL, 'applyClip');
    // Clipped gradients have norm maxNorm (up to the 1e-6 guard).
    gradNorm(gpu, [{ buf: bg, n: 1025 }], partials, clip, 0.5);
    expect((await gpu.readF32(clip))[0]).toBeCloseTo(0.5, 5);
    for (const x of [bg, partials, clip]) x.release();
  });

  it('checks buffer sizes', async () => {
    const gpu = await testGpu();
    const g = await zeros(gpu, 10);
    const small = await zeros(gpu, 1);
    expect(() => gradNorm(gpu, [{ buf: g, n: 11 }], small, g, 1)).toThrow(/gradient needs 11 floats/);
    expect(() => gradNorm(gpu, [{ buf: g, n: 10 }], small, small, 1)).toThrow(/out needs 2 floats/);
    for (const x of [g, small]) x.release();
  });
});
