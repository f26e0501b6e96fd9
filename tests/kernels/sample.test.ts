// GPU sampling (shaders/sample.wgsl) against its plain-loop reference and the host sampler
// it replaces, on awkward vocabulary sizes, with ties, for greedy, temperature, top-k, top-p
// and their combinations; u comes from the seeded Philox stream on the GPU.

import { describe, expect, it } from 'vitest';
import { sampleTokenGpu } from '../../src/engine/kernels/sample.ts';
import { sampleRef } from '../../src/engine/kernels/sample.ref.ts';
import { uniformRef } from '../../src/engine/kernels/rng.ref.ts';
import { sampleToken, type SamplingOptions } from '../../src/engine/model/sampling.ts';
import { randn, rng, testGpu, upload } from '../helpers/gpu.ts';

const OPTS: SamplingOptions[] = [
  { temperature: 0, topK: 0, topP: 1 },
  { temperature: 1, topK: 0, topP: 1 },
  { temperature: 0.7, topK: 5, topP: 1 },
  { temperature: 1.3, topK: 0, topP: 0.9 },
  { temperature: 0.9, topK: 40, topP: 0.8 },
  { temperature: 1, topK: 1, topP: 1 },
];

function logitsOf(V: number, seed: number, ties: boolean): Float32Array {
  if (!ties) return randn(V, seed, -4, 4);
  const r = rng(seed);
  return Float32Array.from({ length: V }, () => Math.floor(r() * 6) - 3); // few distinct values: many ties
}

describe('sample (GPU) vs reference', () => {
  it('picks the reference token on awkward shapes, with and without ties', async () => {
    const gpu = await testGpu();
    const out = await upload(gpu, new Uint32Array(1));
    let asserted = 0;
    let total = 0;
    for (const V of [1, 7, 300, 1031]) {
      for (const ties of [false, true]) {
        const logits = logitsOf(V, V * 7 + (ties ? 1 : 0), ties);
        const buf = await upload(gpu, logits);
        for (const [oi, o] of OPTS.entries()) {
          for (const index of [0, 13]) {
            const seed = 1000 + oi;
            const u = uniformRef(seed, index);
            const ref = sampleRef(logits, o, u);
            // the reference is the host sampler the generator used before
            expect(sampleToken(logits, o, u), `host sampler V=${V} ${JSON.stringify(o)}`).toBe(ref.id);
            sampleTokenGpu(gpu, buf, V, out, { ...o, seed, index });
            const [got] = await gpu.readU32(out, 1);
            total++;
            // f32 sums on the GPU, f64 here: a cut within 1e-5 of a boundary may fall either way
            if (ref.margin > 1e-5) {
              asserted++;
              expect(got, `V=${V} ties=${ties} ${JSON.stringify(o)} index=${index}`).toBe(ref.id);
            } else expect(got).toBeLessThan(V);
          }
        }
        buf.release();
      }
    }
    expect(asserted / total).toBeGreaterThan(0.9);
  });

  it('follows the seed: the same (seed, index) gives the same token, the distribution follows the weights', async () => {
    const gpu = await testGpu();
    const logits = Float32Array.from([0, Math.log(3), -50, Math.log(6)]); // p ≈ 0.1, 0.3, 0, 0.6
    const buf = await upload(gpu, logits);
    const out = await upload(gpu, new Uint32Array(1));
    const hits = [0, 0, 0, 0];
    for (let i = 0; i < 80; i++) {
      sampleTokenGpu(gpu, buf, 4, out, { temperature: 1, topK: 0, topP: 1, seed: 9, index: i });
      hits[(await gpu.readU32(out, 1))[0]]++;
    }
    expect(hits[2]).toBe(0);
    expect(hits[3]).toBeGreaterThan(hits[1]);
    expect(hits[1]).toBeGreaterThan(hits[0]);
    sampleTokenGpu(gpu, buf, 4, out, { temperature: 1, topK: 0, topP: 1, seed: 9, index: 7 });
    const a = (await gpu.readU32(out, 1))[0];
    sampleTokenGpu(gpu, buf, 4, out, { temperature: 1, topK: 0, topP: 1, seed: 9, index: 7 });
    expect((await gpu.readU32(out, 1))[0]).toBe(a);
  });
});
