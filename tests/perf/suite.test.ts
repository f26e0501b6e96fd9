// The benchmark suite (bench:train / bench:decode / bench:gpu and the GPU panel's "Benchmark
// this GPU") on tiny-kjv, cut short: its rows carry the steady-state counts the issue asks
// for (no buffer created, no awaited error scope, ≤ 2 submits, one small readback per step,
// 4 bytes per token) and ratios within the run. Counts and ratios, never times.

import { describe, expect, it } from 'vitest';
import '../../src/engine/methods/all.ts';
import { DECODE_CONFIGS, runSuite, stepMatmuls } from '../../src/engine/bench/suite.ts';
import { nodeModelDir } from '../../src/engine/io/node-dir.ts';
import { parseModelConfig } from '../../src/engine/model/config.ts';
import { SMOLLM2_135M_CONFIG, syntheticModel } from '../../src/engine/bench/synthetic.ts';
import { Checkpoint } from '../../src/engine/io/model-files.ts';
import { testGpu } from '../helpers/gpu.ts';

const DIR = new URL('../../public/models/tiny-kjv', import.meta.url).pathname;

describe('benchmark suite', () => {
  it('a decode row on tiny-kjv: steady-state counts per token and the bandwidth ratio', async () => {
    // (a training row's counts are the hot-path test's; its roofline sum is checked below)
    const gpu = await testGpu();
    const dec = DECODE_CONFIGS.find((c) => c.label === 'tiny-kjv f32');
    if (!dec) throw new Error('suite configurations renamed');
    const r = await runSuite(gpu, { tinyKjv: () => nodeModelDir(DIR) }, { decode: [{ ...dec, tokens: 6 }], copyBytes: 2 ** 20 });
    const [d] = r.decode;
    expect([d.bufferCreations, d.awaitedErrorScopes, d.readbacks, d.readbackBytes]).toEqual([0, 0, 1, 4]);
    expect(d.submits).toBeLessThanOrEqual(2);
    expect(d.dispatches).toBeGreaterThan(20);
    expect(d.bandwidthFraction).toBeGreaterThan(0);
    expect(r.copy.gbps).toBeGreaterThan(0);
  });

  it('the 135M-shaped model is generated on read with the SmolLM2-135M shapes; a step has the linear + head matmuls', async () => {
    const files = syntheticModel({ ...SMOLLM2_135M_CONFIG });
    const ck = await Checkpoint.open(files);
    expect(ck.names.length).toBe(2 + 30 * 9);
    expect(ck.info('model.layers.3.mlp.down_proj.weight').shape).toEqual([576, 1536]);
    const w = await ck.readF32('model.layers.0.self_attn.k_proj.weight');
    expect(w.length).toBe(192 * 576);
    expect(Math.max(...w.subarray(0, 1000))).toBeLessThanOrEqual(0.05);
    expect(new Set(w.subarray(0, 100)).size).toBeGreaterThan(90);
    expect([...(await ck.readF32('model.norm.weight')).subarray(0, 4)]).toEqual([1, 1, 1, 1]);
    const spec = parseModelConfig(JSON.stringify(SMOLLM2_135M_CONFIG));
    const uses = stepMatmuls(spec, 128, 'frozen');
    const flops = uses.reduce((a, u) => a + 2 * u.M * u.N * u.K * u.count, 0);
    // forward + dX of 30 layers' linears (576·(576+192+192+576) + 3·576·1536 per token) and the head (576·49152)
    const perToken = 30 * (576 * (576 + 192 + 192 + 576) + 3 * 576 * 1536) + 576 * 49152;
    expect(flops).toBe(2 * 2 * 128 * perToken);
  });
});
